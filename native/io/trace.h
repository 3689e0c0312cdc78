// `las trace`: sampled per-frame decisions of the fast path, for up to kMaxTraceFilters filters at
// once. The control plane publishes a TraceSet by swapping one pointer (Dataplane::set_trace); a
// worker picks it up between blocks, like a snapshot. With no filter the per-frame loop is the
// untraced one (Worker::process_block chooses per block); with filters, each decision is matched and
// a matching one is copied into the worker's own TraceRing: no allocation, lock or syscall per frame.
#pragma once
#include <atomic>
#include <cstdint>
#include <cstring>
#include <memory>

#include "../dataplane/classify.h"

namespace las {

constexpr uint32_t kMaxTraceFilters = 4;

// Verdict bits of TraceFilter::verdicts, one per Action.
constexpr uint8_t verdict_bit(Action a) { return static_cast<uint8_t>(1u << static_cast<int>(a)); }
constexpr uint8_t kAllVerdicts = 0x1f;

struct TraceFilter {
  uint32_t vip = 0;               // destination address, 0 = any
  int32_t port = -1;              // destination port, -1 = any
  uint8_t proto = 0;              // IP protocol, 0 = any
  uint32_t client = 0;            // source prefix (host order), matched under client_mask
  uint32_t client_mask = 0;       // 0 = any client
  uint32_t server = 0;            // forwarded to this server, 0 = any
  uint8_t verdicts = kAllVerdicts;
  DropReason reason = DropReason::Count;  // Count = any reason
  uint32_t sample = 1;            // keep 1 in `sample` matching decisions (per worker)
  // 0: frames of both families (no address above or below is set); 4: v4 frames only, matched on
  // the fields above; 6: v6 frames only, matched on the fields below (the v4 ones stay 0).
  uint8_t family = 0;
  uint8_t vip6[16] = {};          // all zero = any (:: is never a VIP)
  uint8_t client6[16] = {};       // source prefix, matched under client6_mask
  uint8_t client6_mask[16] = {};
  uint8_t server6[16] = {};       // all zero = any
};

struct TraceSet {
  uint32_t count = 0;
  TraceFilter filters[kMaxTraceFilters];
  uint64_t generation = 0;
};

// One decision, as the control plane reads it. Addresses in host order. A v6 frame (kTraceV6) has
// src/dst folded (fold_ipv6) and server its identity, and its addresses as on the wire in src6,
// dst6 and server6 (all zero for a v4 frame): 48 bytes more than a v4-only record, copied only
// while a trace runs.
struct TraceRecord {
  uint32_t sec, nsec;             // the kernel's receive time (tpacket3_hdr)
  uint32_t src, dst;
  uint16_t sport, dport;
  uint8_t proto;
  uint8_t action;                 // Action
  uint8_t reason;                 // DropReason (Count when not dropped)
  uint8_t flags;                  // kTraceNewFlow, kTraceFragment, kTraceIcmpError, kTraceArp
  uint32_t server;                // forwarded to (0 otherwise)
  uint32_t len;
  uint16_t service_port;          // the matched service's port (0 = all ports); 0xffff none
  uint8_t matched;                // bit per filter of the set that took this record
  uint8_t worker;                 // set when drained
  uint8_t src6[16];
  uint8_t dst6[16];
  uint8_t server6[16];
};
static_assert(sizeof(TraceRecord) == 84, "trace record layout: src/control/trace-records.ts reads these offsets");

constexpr uint8_t kTraceNewFlow = 1, kTraceFragment = 2, kTraceIcmpError = 4, kTraceArp = 8, kTraceV6 = 16;

inline bool all_zero16(const uint8_t* a) {
  uint8_t any = 0;
  for (int i = 0; i < 16; ++i) any |= a[i];
  return any == 0;
}

// Single producer (the worker), single consumer (the control plane, serialised by Dataplane). When
// full, new records are counted as lost rather than overwriting what the reader has not taken.
class TraceRing {
 public:
  static constexpr uint32_t kCapacity = 4096;

  TraceRing() : ring_(new TraceRecord[kCapacity]) {}

  bool push(const TraceRecord& r) {
    uint32_t head = head_.load(std::memory_order_relaxed);
    if (head - tail_.load(std::memory_order_acquire) >= kCapacity) {
      lost_.store(lost_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
      return false;
    }
    ring_[head & (kCapacity - 1)] = r;
    head_.store(head + 1, std::memory_order_release);
    return true;
  }

  // Consumer: copies up to max records out.
  uint32_t drain(TraceRecord* out, uint32_t max) {
    uint32_t tail = tail_.load(std::memory_order_relaxed);
    uint32_t head = head_.load(std::memory_order_acquire);
    uint32_t n = 0;
    for (; tail != head && n < max; ++tail, ++n) out[n] = ring_[tail & (kCapacity - 1)];
    tail_.store(tail, std::memory_order_release);
    return n;
  }

  uint64_t lost() const { return lost_.load(std::memory_order_relaxed); }

 private:
  std::unique_ptr<TraceRecord[]> ring_;
  alignas(64) std::atomic<uint32_t> head_{0};
  std::atomic<uint64_t> lost_{0};
  alignas(64) std::atomic<uint32_t> tail_{0};
};

// Does a decision match one filter? Only called while a trace runs.
inline bool trace_matches(const TraceFilter& f, const TraceRecord& r) {
  if (!(f.verdicts & (1u << r.action))) return false;
  // A v4 filter never takes a v6 frame whose folded address happens to equal its v4 one.
  if (f.family && (f.family == 6) != ((r.flags & kTraceV6) != 0)) return false;
  if (f.reason != DropReason::Count && r.reason != static_cast<uint8_t>(f.reason)) return false;
  if (f.vip && r.dst != f.vip) return false;
  if (f.port >= 0 && r.dport != static_cast<uint32_t>(f.port)) return false;
  if (f.proto && r.proto != f.proto) return false;
  if ((r.src & f.client_mask) != f.client) return false;
  if (f.server && r.server != f.server) return false;
  if (f.family == 6) {
    if (!all_zero16(f.vip6) && std::memcmp(r.dst6, f.vip6, 16) != 0) return false;
    for (int i = 0; i < 16; ++i)
      if ((r.src6[i] & f.client6_mask[i]) != f.client6[i]) return false;
    if (!all_zero16(f.server6) && std::memcmp(r.server6, f.server6, 16) != 0) return false;
  }
  return true;
}

}  // namespace las
