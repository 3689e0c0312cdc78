// The per-frame decision, shared by the I/O threads and the socket-free Classifier used in tests:
// parse, find the service, find or create the flow, choose the server, rewrite the MACs in place.
#pragma once
#include <cstdint>
#include <vector>

#include "../lb/flow_table.h"
#include "../lb/server_load.h"
#include "../lb/snapshot.h"
#include "../packet/bytes.h"
#include "../packet/ndp.h"
#include "../packet/parse.h"
#include "worker_counters.h"

namespace las {

// NdpReply: a Neighbor Advertisement for a v6 VIP, built in WorkerState::reply (it can be longer
// than the solicitation it answers); the frame itself is left as it was.
enum class Action : uint8_t { Forward, ArpReply, Drop, Pass, NdpReply };

struct Decision {
  Action action;
  DropReason reason;
  int service;
  int server;
  bool new_flow = false;  // Forward: the scheduler chose the server (no live flow-table entry)
};

// Everything one worker owns. Nothing in here is shared with another thread except the counters,
// which others only read.
struct WorkerState {
  // flow6_capacity: the v6 table's (0: a quarter of flow_capacity, at least 1024; see flow_table.h).
  WorkerState(uint32_t flow_capacity, uint32_t idle_ms, uint32_t index, uint32_t flow6_capacity = 0)
      : flows(flow_capacity), flows6(flow6_capacity ? flow6_capacity : default_flow6_capacity(flow_capacity)),
        idle_ms(idle_ms), index(index) {}
  static uint32_t default_flow6_capacity(uint32_t v4) { return v4 / 4 > 1024 ? v4 / 4 : 1024; }

  FlowTable flows;
  FlowTable6 flows6;                // v6 flows: their own 64-byte entries
  uint32_t idle_ms;
  uint32_t index;                   // which counter block of a snapshot is ours
  Mac ingress_mac{};                // answers ARP and NDP for the VIPs
  uint8_t reply[ndp::kMaxAdvertLen]; // the last NdpReply decision's advertisement
  uint32_t reply_len = 0;
  Mac egress_mac{};                 // source of forwarded frames
  std::vector<uint32_t> cursors;    // the scheduler's, per service of the current snapshot (rr, wrr)
  uint64_t snapshot_generation = 0;
  WorkerCounters counters;
  ServerLoad load;                  // live flows per server address in this shard

  // Every removal of a flow entry goes through here so the per-server load stays right.
  static void on_erase(void* self, const FlowEntry& e) { static_cast<WorkerState*>(self)->load.add(e.server_addr, -1); }
  static void on_erase6(void* self, const FlowEntry6& e) { static_cast<WorkerState*>(self)->load.add(e.server_addr, -1); }
  uint32_t sweep(uint32_t now_ms, uint32_t budget) {
    return flows.sweep(now_ms, idle_ms, budget, &on_erase, this) + flows6.sweep(now_ms, idle_ms, budget, &on_erase6, this);
  }
  uint32_t flow_count() const { return flows.size() + flows6.size(); }

  void adopt(const Snapshot& snap) {
    cursors.assign(snap.services.size(), index * 7919u);  // workers start at different points
    snapshot_generation = snap.generation;
  }
};

// The decision comes in two stages so that a batch can look every frame up in two passes: the
// first parses and prefetches each frame's flow-table slot, the second decides once that memory
// is on its way, instead of waiting for one cache miss per frame in turn.
struct Prepared {
  ParsedFrame p;
  int service;          // >= 0: a flow packet of this service, with key and hash below
  DropReason reason;    // Count, or why the frame will be dropped
  bool icmp_error;      // an ICMP(v6) error: key and service are those of the flow it quotes
  bool vip;             // the destination is a VIP of the frame's family (else: passed)
  bool v6;              // the flow is a v6 one: key6 keys it in flows6 and hash is its hash there
  FlowKeyFields key;    // v4: the flow key. v6: the same with fold_ipv6'd addresses, what the
                        // schedulers and the fanout hash (so both need no v6 variant)
  FlowKey6 key6;
  uint64_t hash;        // in the flow table of the frame's family
};

void prepare(const uint8_t* frame, uint32_t len, const Snapshot& snap, WorkerState& w, Prepared& out);

// frame is rewritten in place when the decision is Forward or ArpReply. Only the MACs change: a
// partial checksum is finished by the kernel at egress (the virtio-net header says where).
Decision decide(uint8_t* frame, uint32_t len, const Snapshot& snap, WorkerState& w, uint32_t now_ms,
                const Prepared& prepared);

inline Decision classify(uint8_t* frame, uint32_t len, const Snapshot& snap, WorkerState& w, uint32_t now_ms) {
  Prepared pr;
  prepare(frame, len, snap, w, pr);
  return decide(frame, len, snap, w, now_ms, pr);
}

}  // namespace las
