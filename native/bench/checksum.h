// Internet checksum arithmetic for the traffic generator. The fast path never computes a
// checksum: partial ones travel to the kernel in the virtio-net header (packet/vnet.h).
#pragma once
#include <cstdint>

#include "../packet/bytes.h"

namespace las {

inline uint32_t sum16(const uint8_t* p, uint32_t n, uint32_t acc) {
  for (; n >= 2; p += 2, n -= 2) acc += load_be16(p);
  if (n) acc += static_cast<uint32_t>(p[0]) << 8;
  return acc;
}

inline uint16_t fold(uint32_t acc) {
  while (acc >> 16) acc = (acc & 0xffff) + (acc >> 16);
  return static_cast<uint16_t>(~acc);
}

}  // namespace las
