// L4 checksum completion. Frames sent by a local stack through veth arrive with the checksum left to
// offload (TP_STATUS_CSUMNOTREADY); a dispatcher that forwards them to a real NIC must finish it.
#pragma once
#include <cstdint>

#include "bytes.h"
#include "consts.h"

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

// Recomputes the TCP or UDP checksum of an unfragmented IPv4 packet from scratch.
inline bool complete_l4_checksum(uint8_t* frame, uint32_t l3, uint32_t l4, uint32_t ip_end, uint8_t proto) {
  uint32_t field;
  if (proto == kProtoTcp) field = 16;
  else if (proto == kProtoUdp) field = 6;
  else return false;
  uint32_t l4_len = ip_end - l4;
  if (l4_len < field + 2) return false;
  store_be16(frame + l4 + field, 0);
  uint32_t acc = sum16(frame + l3 + 12, 8, 0);  // source and destination addresses
  acc += proto;
  acc += l4_len;
  acc = sum16(frame + l4, l4_len, acc);
  uint16_t csum = fold(acc);
  if (proto == kProtoUdp && csum == 0) csum = 0xffff;
  store_be16(frame + l4 + field, csum);
  return true;
}

}  // namespace las
