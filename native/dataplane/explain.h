// `las explain`: what the fast path does, or would do, with one flow. The same code answers for the
// running daemon (each I/O thread on its own shard and snapshot, between batches) and offline from
// a config (a fresh WorkerState per worker): prepare() finds the service and the flow key as for a
// frame, fanout_hash() the worker, and the scheduler's own choose() the server of a new flow.
#pragma once
#include <cstdint>

#include "classify.h"

namespace las {

struct ExplainTuple {
  uint8_t proto;  // kProtoTcp or kProtoUdp
  uint32_t src, dst;
  uint16_t sport, dport;
  uint8_t family = 4;              // 6: src6/dst6 hold the addresses (src/dst are unused)
  uint8_t src6[16]{}, dst6[16]{};
};

// A server as the snapshot the answer came from saw it (the answer outlives that snapshot).
struct ServerView {
  int index = -1;  // in the service's servers, the sorry server last; -1: none
  uint32_t addr = 0;               // a v6 server: its identity; addr6 its address
  uint8_t addr6[16]{};
  uint32_t weight = 0;
  bool up = false;
  bool sorry = false;
};

struct Explanation {
  uint8_t family = 4;                     // of the tuple; key holds the folds of a v6 flow's addresses
  uint8_t client6[16]{}, vip6[16]{};
  bool vip = false;                       // false: not a VIP, the fast path passes it to the kernel
  DropReason reason = DropReason::Count;  // why the frame would be dropped (no_service, no_server), else Count
  int service = -1;
  SchedulerKind scheduler = SchedulerKind::Maglev;
  FlowKeyMode flow_key = FlowKeyMode::FiveTuple;
  uint32_t total_weight = 0;    // of the servers that may take new flows
  FlowKeyFields key{};
  uint32_t worker = 0;          // the shard the fanout program hands the flow to
  uint64_t generation = 0;      // the snapshot the answer was computed on
  // The flow's entry in that worker's shard, if any.
  bool has_entry = false;
  bool entry_live = false;      // not idle past the table's bound: its packets keep its server
  uint32_t entry_server_addr = 0;
  ServerView entry_server;      // index -1 when the entry's server left the service
  uint8_t tcp_flags_seen = 0;
  uint32_t age_ms = 0, idle_ms = 0;
  // What a new flow gets: choose() on a copy of the worker's state (nothing advances).
  ServerView new_server;        // index -1: no server, dropped
  bool sorry = false;           // the scheduler found no server: the sorry server takes it
  int64_t position = -1;        // Maglev slot or sequence position choose() read; -1 for wlc
  uint32_t table_size = 0;
  uint64_t load = 0;            // wlc: live flows of the chosen server in the worker's shard
  // The server the next packet of this flow goes to (the entry's, or the new-flow choice).
  ServerView server;
  bool from_entry = false;
  // Second chance: where a TCP packet without SYN and without a live entry goes instead (the
  // service's previous table), and for how much longer; index -1 when it goes where a new flow does.
  ServerView second_chance;
  uint32_t second_chance_left_ms = 0;
};

// w is the worker's state: its shard, its cursors and load (read, never changed). now_ms: the
// flow clock (monotonic_ms()). workers: the number of I/O threads (fanout).
Explanation explain_flow(const ExplainTuple& t, const Snapshot& snap, WorkerState& w, uint32_t workers, uint32_t now_ms);

// The worker a tuple belongs to, without looking at any shard (0 when it is not a flow packet).
uint32_t explain_worker(const ExplainTuple& t, const Snapshot& snap, WorkerState& any, uint32_t workers);

}  // namespace las
