// Maglev consistent hashing (Eisenbud et al., NSDI'16) with weights: each server fills table slots
// from its own permutation, in turns proportional to its weight. The table depends only on the
// servers' addresses and weights, so two dispatchers (or one after a restart) build the same table.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

namespace las {

struct MaglevServer {
  uint32_t addr;    // identity: host-order IPv4 address
  uint32_t weight;  // 0 = never chosen
};

constexpr uint16_t kNoServer = 0xffff;

// size must be prime. Slots hold server indexes, or kNoServer when no server has a weight.
std::vector<uint16_t> build_maglev_table(const std::vector<MaglevServer>& servers, uint32_t size);

bool is_prime(uint32_t n);

}  // namespace las
