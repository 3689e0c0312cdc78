// A broken invariant in a fuzz target: say which, then abort so libFuzzer saves the input as a crash.
#pragma once
#include <cstdio>
#include <cstdlib>

#define LAS_FUZZ_CHECK(cond, ...)                                              \
  do {                                                                         \
    if (!(cond)) {                                                             \
      std::fprintf(stderr, "LAS fuzz invariant broken at %s:%d: %s\n  ", __FILE__, __LINE__, #cond); \
      std::fprintf(stderr, __VA_ARGS__);                                       \
      std::fprintf(stderr, "\n");                                              \
      std::abort();                                                            \
    }                                                                          \
  } while (0)
