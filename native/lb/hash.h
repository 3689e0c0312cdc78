// Hashes of flow keys and server identities. Deterministic across restarts and across dispatchers:
// that is what lets Maglev send an unknown flow to the same server after a restart.
#pragma once
#include <cstdint>

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

constexpr uint64_t kFlowTableSeed = 0x4c41535f666c6f77ULL;   // "LAS_flow"
constexpr uint64_t kMaglevFlowSeed = 0x4c41535f6d61676cULL;  // "LAS_magl"

}  // namespace las
