// Live flows per server in one worker's shard: what wlc schedules by and what `las status` shows.
// Keyed by server address so it survives snapshot swaps. Written only by the worker; the control
// plane reads it without a lock.
#pragma once
#include <atomic>
#include <cstdint>

#include "hash.h"
#include "snapshot.h"

namespace las {

class ServerLoad {
 public:
  static constexpr uint32_t kSlots = 8192;  // distinct server addresses a worker can track

  void add(uint32_t addr, int64_t delta) {
    Counter* c = find(addr, true);
    if (c) c->set(c->get() + static_cast<uint64_t>(delta));
  }
  uint64_t get(uint32_t addr) const {
    const Counter* c = const_cast<ServerLoad*>(this)->find(addr, false);
    return c ? c->get() : 0;
  }

 private:
  Counter* find(uint32_t addr, bool create) {
    uint32_t key = addr + 1;  // 0 marks an empty slot
    for (uint32_t i = static_cast<uint32_t>(mix64(addr)) & (kSlots - 1), n = 0; n < kSlots; i = (i + 1) & (kSlots - 1), ++n) {
      uint32_t k = keys_[i].load(std::memory_order_acquire);
      if (k == key) return &counts_[i];
      if (k == 0) {
        if (!create) return nullptr;
        keys_[i].store(key, std::memory_order_release);
        return &counts_[i];
      }
    }
    return nullptr;  // full: stop tracking new servers rather than fail
  }
  std::atomic<uint32_t> keys_[kSlots] = {};
  Counter counts_[kSlots];
};

}  // namespace las
