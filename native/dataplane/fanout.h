// Which worker owns a frame. With several workers the kernel's PACKET_FANOUT_CBPF group runs the
// program built here on every frame and hands it to member (hash % workers); the workers compute the
// same hash from the classifier's flow key and count any frame that reached the wrong shard. Both
// sides hash exactly the service's flow key: (client, VIP) for "addresses", the 5-tuple for
// "5tuple", the quoted flow for an ICMP error, and (source, destination) for every fragment. IPv6
// is the same with each address folded to 32 bits first (fold_ipv6: the XOR of its four words, what
// Prepared::key holds for a v6 flow); the program walks the extension headers (fragment included)
// and the chain an ICMPv6 error quotes as the parser does.
#pragma once
#include <linux/filter.h>

#include <cstdint>
#include <vector>

#include "../lb/snapshot.h"
#include "classify.h"

namespace las {

// Multiply-xor mixing in 32-bit arithmetic, because classic BPF has nothing wider.
constexpr uint32_t kFanoutMul1 = 0x9e3779b1u;
constexpr uint32_t kFanoutMul2 = 0x85ebca6bu;
constexpr uint32_t kFanoutMul3 = 0xc2b2ae35u;

// ports: (source port << 16) | destination port for a 5-tuple key, 0 for an address key.
inline uint32_t fanout_mix(uint32_t src, uint32_t dst, uint32_t ports) {
  uint32_t h = ((src * kFanoutMul1 ^ dst) * kFanoutMul2) ^ ports;
  // murmur3's finaliser: every bit of the result depends on every bit of h, so the low bits that
  // `% workers` keeps see all of the source port (Linux picks even ones: its lowest bit never moves).
  h ^= h >> 16;
  h *= kFanoutMul2;
  h ^= h >> 13;
  h *= kFanoutMul3;
  return h ^ (h >> 16);
}

// The hash of a prepared flow frame (prepared.service >= 0).
inline uint32_t fanout_hash(const Prepared& pr, const Snapshot& snap) {
  bool tuple = snap.services[pr.service].spec.flow_key == FlowKeyMode::FiveTuple && !pr.p.is_fragment;
  uint32_t ports = tuple ? (static_cast<uint32_t>(pr.key.sport) << 16) | pr.key.dport : 0;
  return fanout_mix(pr.key.src, pr.key.dst, ports);
}

// The classic BPF program for PACKET_FANOUT_DATA. Throws std::runtime_error if the services need
// more than the kernel's 4096 instructions.
std::vector<sock_filter> fanout_program(const Snapshot& snap);

}  // namespace las
