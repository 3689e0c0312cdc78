// Per-worker counters: one cache-line-aligned block per I/O thread, written only by that thread and
// read by the control plane without a lock.
#pragma once
#include "../lb/snapshot.h"
#include "../packet/consts.h"

namespace las {

// A plain copy of the counters, taken without stopping the worker.
struct WorkerStats {
  uint64_t rx_packets, rx_bytes, tx_packets, tx_bytes, arp_replies, batches;
  uint64_t gso_frames, tx_syscalls, wrong_worker;
  uint64_t flows_active, flows_expired, flow_table_full, ring_packets, ring_drops;
  uint64_t drops[kDropReasonCount];
};

struct alignas(64) WorkerCounters {
  Counter rx_packets, rx_bytes, tx_packets, tx_bytes;
  Counter arp_replies, batches;
  Counter gso_frames;    // super-frames received (the kernel segments them at egress)
  Counter tx_syscalls;   // sends, sendmmsg calls and ring flushes: frames per syscall = tx_packets / this
  Counter wrong_worker;  // frames the fanout gave a worker that does not own their flow (never expected)
  Counter flows_active, flows_expired, flow_table_full;
  Counter ring_packets, ring_drops;
  Counter drops[kDropReasonCount];

  void drop(DropReason r) { drops[static_cast<int>(r)].add(1); }

  WorkerStats read() const {
    WorkerStats s{rx_packets.get(), rx_bytes.get(), tx_packets.get(), tx_bytes.get(), arp_replies.get(),
                  batches.get(), gso_frames.get(), tx_syscalls.get(), wrong_worker.get(),
                  flows_active.get(), flows_expired.get(),
                  flow_table_full.get(), ring_packets.get(), ring_drops.get(), {}};
    for (int r = 0; r < kDropReasonCount; ++r) s.drops[r] = drops[r].get();
    return s;
  }
};

}  // namespace las
