// Per-worker counters: one cache-line-aligned block per I/O thread, written only by that thread and
// read by the control plane without a lock.
#pragma once
#include "../lb/snapshot.h"
#include "../packet/consts.h"

namespace las {

// X-macro: the fields, their copy and their JavaScript names (exported as WORKER_COUNTERS and checked
// against src/native/contract.ts) come from this one list.
#define LAS_WORKER_COUNTERS(X)                                                                        \
  X(rx_packets, "rxPackets")                                                                          \
  X(rx_bytes, "rxBytes")                                                                              \
  X(tx_packets, "txPackets")                                                                          \
  X(tx_bytes, "txBytes")                                                                              \
  X(arp_replies, "arpReplies")                                                                        \
  X(ndp_adverts, "ndpAdverts")     /* Neighbor Advertisements answering a solicitation for a v6 VIP */ \
  X(passed, "passed")              /* frames not for a VIP, left to the kernel: not dropped */      \
  X(batches, "batches")                                                                               \
  X(gso_frames, "gsoFrames")       /* super-frames received (the kernel segments them at egress) */ \
  X(tx_syscalls, "txSyscalls")     /* sends, sendmmsg calls and ring flushes */                     \
  X(wrong_worker, "wrongWorker")   /* frames the fanout gave a worker that does not own their flow */ \
  X(flows_active, "flowsActive")                                                                      \
  X(flows_expired, "flowsExpired")                                                                    \
  X(flow_table_full, "flowTableFull")                                                                 \
  X(ring_packets, "ringPackets")                                                                      \
  X(ring_drops, "ringDrops")                                                                          \
  X(second_chance, "secondChance") /* packets sent by the previous table (ha.secondChance) */

constexpr const char* kWorkerCounterNames[] = {
#define LAS_NAME(field, name) name,
    LAS_WORKER_COUNTERS(LAS_NAME)
#undef LAS_NAME
};
constexpr int kWorkerCounterCount = sizeof kWorkerCounterNames / sizeof kWorkerCounterNames[0];

// A plain copy of the counters, taken without stopping the worker.
struct WorkerStats {
#define LAS_FIELD(field, name) uint64_t field;
  LAS_WORKER_COUNTERS(LAS_FIELD)
#undef LAS_FIELD
  uint64_t drops[kDropReasonCount];
  // The counters in LAS_WORKER_COUNTERS order, as kWorkerCounterNames names them.
  uint64_t by_index(int i) const {
    const uint64_t values[] = {
#define LAS_VALUE(field, name) field,
        LAS_WORKER_COUNTERS(LAS_VALUE)
#undef LAS_VALUE
    };
    return values[i];
  }
};

struct alignas(64) WorkerCounters {
#define LAS_FIELD(field, name) Counter field;
  LAS_WORKER_COUNTERS(LAS_FIELD)
#undef LAS_FIELD
  Counter drops[kDropReasonCount];

  void drop(DropReason r) { drops[static_cast<int>(r)].add(1); }

  WorkerStats read() const {
    WorkerStats s{};
#define LAS_COPY(field, name) s.field = field.get();
    LAS_WORKER_COUNTERS(LAS_COPY)
#undef LAS_COPY
    for (int r = 0; r < kDropReasonCount; ++r) s.drops[r] = drops[r].get();
    return s;
  }
};

}  // namespace las
