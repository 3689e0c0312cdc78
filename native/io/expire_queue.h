// Expiry commands from the aging worker to one I/O thread: a bounded single-producer single-consumer
// ring. The control plane decides which flows expire; the I/O thread, the table's only writer,
// applies them between batches.
#pragma once
#include <atomic>
#include <cstdint>
#include <memory>

#include "../lb/hash.h"

namespace las {

struct ExpireCommand {
  FlowKeyFields key;
  uint32_t last_seen_ms;  // applied only if the flow has not been seen since the decision
};

// The same for a flow of the v6 table.
struct ExpireCommand6 {
  FlowKey6 key;
  uint32_t last_seen_ms;
};

template <typename Command>
class BasicExpireQueue {
 public:
  static constexpr uint32_t kCapacity = 1u << 16;

  BasicExpireQueue() : ring_(new Command[kCapacity]) {}

  // Producer side (callers serialise among themselves). False when full: retried next aging pass.
  bool push(const Command& c) {
    uint32_t head = head_.load(std::memory_order_relaxed);
    if (head - tail_.load(std::memory_order_acquire) >= kCapacity) return false;
    ring_[head & (kCapacity - 1)] = c;
    head_.store(head + 1, std::memory_order_release);
    return true;
  }

  // Consumer side (the I/O thread).
  bool pop(Command& out) {
    uint32_t tail = tail_.load(std::memory_order_relaxed);
    if (tail == head_.load(std::memory_order_acquire)) return false;
    out = ring_[tail & (kCapacity - 1)];
    tail_.store(tail + 1, std::memory_order_release);
    return true;
  }

 private:
  std::unique_ptr<Command[]> ring_;
  alignas(64) std::atomic<uint32_t> head_{0};
  alignas(64) std::atomic<uint32_t> tail_{0};
};

using ExpireQueue = BasicExpireQueue<ExpireCommand>;
using ExpireQueue6 = BasicExpireQueue<ExpireCommand6>;

}  // namespace las
