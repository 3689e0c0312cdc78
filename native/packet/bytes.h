// Unaligned big-endian loads and stores: frames are byte spans with no alignment promise.
#pragma once
#include <cstdint>
#include <cstring>

namespace las {

inline uint16_t load_be16(const uint8_t* p) { return static_cast<uint16_t>((p[0] << 8) | p[1]); }
inline uint32_t load_be32(const uint8_t* p) {
  return (static_cast<uint32_t>(p[0]) << 24) | (static_cast<uint32_t>(p[1]) << 16) |
         (static_cast<uint32_t>(p[2]) << 8) | p[3];
}
inline void store_be16(uint8_t* p, uint16_t v) { p[0] = static_cast<uint8_t>(v >> 8); p[1] = static_cast<uint8_t>(v); }
inline void store_be32(uint8_t* p, uint32_t v) {
  p[0] = static_cast<uint8_t>(v >> 24); p[1] = static_cast<uint8_t>(v >> 16);
  p[2] = static_cast<uint8_t>(v >> 8); p[3] = static_cast<uint8_t>(v);
}

// An IPv6 address folded to 32 bits: the XOR of its four big-endian words. The fanout (cBPF and its
// C++ model) and the schedulers see a v6 flow through these folds, so v4 code paths hash it unchanged.
inline uint32_t fold_ipv6(const uint8_t* a) {
  return load_be32(a) ^ load_be32(a + 4) ^ load_be32(a + 8) ^ load_be32(a + 12);
}

struct Mac {
  uint8_t bytes[6];
};

}  // namespace las
