#include "maglev.h"

#include "hash.h"

namespace las {

bool is_prime(uint32_t n) {
  if (n < 2) return false;
  for (uint32_t d = 2; static_cast<uint64_t>(d) * d <= n; ++d)
    if (n % d == 0) return false;
  return true;
}

std::vector<uint16_t> build_maglev_table(const std::vector<MaglevServer>& servers, uint32_t size) {
  std::vector<uint16_t> table(size, kNoServer);
  uint32_t max_weight = 0;
  for (const auto& s : servers) max_weight = s.weight > max_weight ? s.weight : max_weight;
  if (max_weight == 0 || size == 0) return table;

  const size_t n = servers.size();
  std::vector<uint32_t> pos(n), skip(n);
  std::vector<uint64_t> credit(n, 0);
  for (size_t i = 0; i < n; ++i) {
    pos[i] = static_cast<uint32_t>(mix64(servers[i].addr ^ 0x6f6666736574ULL) % size);
    skip[i] = static_cast<uint32_t>(mix64(servers[i].addr ^ 0x736b6970ULL) % (size - 1)) + 1;
  }
  uint32_t filled = 0;
  while (filled < size) {
    for (size_t i = 0; i < n && filled < size; ++i) {
      credit[i] += servers[i].weight;
      // A server with the largest weight places one slot per round; lighter ones proportionally fewer.
      while (credit[i] >= max_weight && filled < size) {
        credit[i] -= max_weight;
        // Walk this server's permutation (offset + j * skip) mod size to its next free slot.
        while (table[pos[i]] != kNoServer) {
          pos[i] += skip[i];
          if (pos[i] >= size) pos[i] -= size;
        }
        table[pos[i]] = static_cast<uint16_t>(i);
        ++filled;
      }
    }
  }
  return table;
}

}  // namespace las
