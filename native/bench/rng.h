// xorshift64*: a few cycles per number, no allocation; good enough to spread benchmark flows.
#pragma once
#include <cstdint>

namespace las::bench {

struct Rng {
  uint64_t s;
  explicit Rng(uint64_t seed = 0x2545f4914f6cdd1dULL) : s(seed ? seed : 0x9e3779b97f4a7c15ULL) {}
  uint64_t next() {
    s ^= s >> 12;
    s ^= s << 25;
    s ^= s >> 27;
    return s * 0x2545f4914f6cdd1dULL;
  }
  // Uniform in [0, span) for span <= 2^32 by multiply-shift: no division in the loop.
  uint32_t below(uint64_t span) { return static_cast<uint32_t>(((next() >> 32) * span) >> 32); }
};

}  // namespace las::bench
