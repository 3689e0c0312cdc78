// Hashes of flow keys and server identities. Deterministic across restarts and across dispatchers:
// that is what lets Maglev send an unknown flow to the same server after a restart.
#pragma once
#include <cstdint>
#include <cstring>

namespace las {

inline uint64_t mix64(uint64_t x) {  // splitmix64 finaliser
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  x ^= x >> 31;
  return x;
}

struct FlowKeyFields {
  uint32_t src;
  uint32_t dst;
  uint16_t sport;
  uint16_t dport;
  uint8_t proto;
};

inline uint64_t hash_flow(const FlowKeyFields& k, uint64_t seed) {
  uint64_t a = (static_cast<uint64_t>(k.src) << 32) | k.dst;
  uint64_t b = (static_cast<uint64_t>(k.sport) << 32) | (static_cast<uint64_t>(k.dport) << 16) | k.proto;
  return mix64(mix64(a ^ seed) ^ (b + 0x9e3779b97f4a7c15ULL));
}

// An IPv6 flow key: addresses as on the wire (16 bytes each), ports and protocol as for v4.
struct FlowKey6 {
  uint8_t src[16];
  uint8_t dst[16];
  uint16_t sport;
  uint16_t dport;
  uint8_t proto;
};

inline uint64_t load_u64(const uint8_t* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}

// Two rounds of mixing, not one per word: each address's halves are combined through a multiply
// first, so equal halves do not cancel, and src and dst enter different rounds.
inline uint64_t hash_flow6(const FlowKey6& k, uint64_t seed) {
  uint64_t s = load_u64(k.src) ^ (load_u64(k.src + 8) * 0x9e3779b97f4a7c15ULL);
  uint64_t d = load_u64(k.dst) ^ (load_u64(k.dst + 8) * 0xc2b2ae3d27d4eb4fULL);
  uint64_t b = (static_cast<uint64_t>(k.sport) << 32) | (static_cast<uint64_t>(k.dport) << 16) | k.proto;
  return mix64(mix64(s ^ seed) ^ d ^ (b + 0x9e3779b97f4a7c15ULL));
}

// A v6 server's 32-bit identity (the `addr` that flow entries, ServerLoad and persistence hold):
// a hash, not the fold, so addresses that differ in one word pattern do not collide by design.
// The snapshot refuses a service whose servers' identities collide anyway.
inline uint32_t server_identity6(const uint8_t* a) {
  return static_cast<uint32_t>(mix64(mix64(load_u64(a) ^ 0x4c41535f73727636ULL) ^ load_u64(a + 8)));
}

constexpr uint64_t kFlowTableSeed = 0x4c41535f666c6f77ULL;   // "LAS_flow"
constexpr uint64_t kMaglevFlowSeed = 0x4c41535f6d61676cULL;  // "LAS_magl"

}  // namespace las
