// ARP for the VIPs: the dispatcher answers requests itself and announces VIPs with gratuitous ARP,
// so no VIP is configured on the dispatcher's kernel.
#pragma once
#include <cstdint>
#include <cstring>

#include "bytes.h"
#include "consts.h"

namespace las {

struct ArpRequest {
  bool valid;              // Ethernet/IPv4 ARP request, well formed
  uint32_t sender_ip;      // host order; 0.0.0.0 in an address probe (RFC 5227)
  uint32_t target_ip;      // host order
};

inline ArpRequest parse_arp_request(const uint8_t* frame, uint32_t len, uint32_t l3) {
  ArpRequest r{false, 0, 0};
  if (len < l3 + kArpIpv4Len) return r;
  const uint8_t* a = frame + l3;
  // htype 1 (Ethernet), ptype IPv4, hlen 6, plen 4, op 1 (request)
  if (load_be16(a) != 1 || load_be16(a + 2) != kEthIpv4 || a[4] != 6 || a[5] != 4) return r;
  if (load_be16(a + 6) != 1) return r;
  r.valid = true;
  r.sender_ip = load_be32(a + 14);
  r.target_ip = load_be32(a + 24);
  return r;
}

// Turns the request in place into the reply "target_ip is at our_mac" (same length, same VLAN tags).
inline void arp_reply_in_place(uint8_t* frame, uint32_t l3, const Mac& our_mac) {
  uint8_t* a = frame + l3;
  uint8_t requester_mac[6];
  uint8_t requester_ip[4];
  uint8_t target_ip[4];
  std::memcpy(requester_mac, a + 8, 6);
  std::memcpy(requester_ip, a + 14, 4);
  std::memcpy(target_ip, a + 24, 4);
  store_be16(a + 6, 2);  // reply
  std::memcpy(a + 8, our_mac.bytes, 6);
  std::memcpy(a + 14, target_ip, 4);
  std::memcpy(a + 18, requester_mac, 6);
  std::memcpy(a + 24, requester_ip, 4);
  std::memcpy(frame, requester_mac, 6);
  std::memcpy(frame + 6, our_mac.bytes, 6);
}

constexpr uint32_t kGratuitousArpLen = 60;  // minimum Ethernet frame, zero padded

// Broadcast ARP request with sender == target == vip: neighbours update their cache for the VIP.
inline void build_gratuitous_arp(uint8_t* out, const Mac& our_mac, uint32_t vip) {
  std::memset(out, 0, kGratuitousArpLen);
  std::memset(out, 0xff, 6);
  std::memcpy(out + 6, our_mac.bytes, 6);
  store_be16(out + 12, kEthArp);
  uint8_t* a = out + kEthHeaderLen;
  store_be16(a, 1);
  store_be16(a + 2, kEthIpv4);
  a[4] = 6;
  a[5] = 4;
  store_be16(a + 6, 1);
  std::memcpy(a + 8, our_mac.bytes, 6);
  store_be32(a + 14, vip);
  store_be32(a + 24, vip);
}

}  // namespace las
