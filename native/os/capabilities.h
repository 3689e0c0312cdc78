// Dropping Linux capabilities once they are no longer needed (least privilege), without libcap.
// Capabilities are per thread: the drop is applied to every thread of the process.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace las {

// Bit numbers as in <linux/capability.h>.
constexpr int kCapNetAdmin = 12;
constexpr int kCapNetRaw = 13;

struct CapDropResult {
  uint32_t changed = 0;            // threads that dropped the bits
  std::vector<std::string> kept;   // "tid (name)" of threads that block every signal and keep them
};

// Clears the capabilities in `mask` (1 << bit) from the effective, permitted and inheritable sets of
// every thread of the process; the kernel then clears them from the ambient set too, so programs the
// daemon starts later (tc, ip, command health checks) do not get them either. A thread that blocks
// every signal cannot be reached and is reported in `kept`; throws naming the threads that still hold
// a bit after a bounded wait although they could have been reached.
CapDropResult drop_capabilities(uint64_t mask);

// Programs the calling thread starts from now on get no capabilities: clears its ambient and
// inheritable sets (its own effective and permitted sets stay). For threads that run untrusted
// commands (command health checks).
void clear_child_capabilities();

// The calling thread's effective set (bit per capability).
uint64_t effective_capabilities();

}  // namespace las
