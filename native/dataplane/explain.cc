#include "explain.h"

#include <cstring>

#include "../packet/bytes.h"
#include "../packet/consts.h"
#include "fanout.h"

namespace las {

namespace {

constexpr uint32_t kFrameLen = kEthHeaderLen + kIpv4MinHeaderLen + kTcpMinHeaderLen;

// The first frame of the flow as a client would send it (a bare SYN for TCP), so prepare() finds
// the service and builds the key exactly as for real traffic.
uint32_t build_frame(const ExplainTuple& t, uint8_t (&f)[kFrameLen]) {
  std::memset(f, 0, sizeof f);
  store_be16(f + 12, kEthIpv4);
  uint8_t* ip = f + kEthHeaderLen;
  const uint32_t l4 = t.proto == kProtoTcp ? kTcpMinHeaderLen : 8;
  ip[0] = 0x45;
  store_be16(ip + 2, static_cast<uint16_t>(kIpv4MinHeaderLen + l4));
  ip[8] = 64;
  ip[9] = t.proto;
  store_be32(ip + 12, t.src);
  store_be32(ip + 16, t.dst);
  uint8_t* p = ip + kIpv4MinHeaderLen;
  store_be16(p, t.sport);
  store_be16(p + 2, t.dport);
  if (t.proto == kProtoTcp) {
    p[12] = 5 << 4;
    p[13] = kTcpSyn;
  } else {
    store_be16(p + 4, 8);
  }
  return kEthHeaderLen + kIpv4MinHeaderLen + l4;
}

bool prepare_tuple(const ExplainTuple& t, const Snapshot& snap, WorkerState& w, Prepared& pr) {
  uint8_t frame[kFrameLen];
  uint32_t len = build_frame(t, frame);
  prepare(frame, len, snap, w, pr);
  return pr.service >= 0 && !pr.icmp_error;
}

ServerView view(const Service& svc, int i) {
  ServerView v;
  if (i < 0) return v;
  const ServerSpec& s = svc.spec.servers[i];
  v = ServerView{i, s.addr, s.weight, s.up, i == svc.sorry_index};
  return v;
}

}  // namespace

uint32_t explain_worker(const ExplainTuple& t, const Snapshot& snap, WorkerState& any, uint32_t workers) {
  Prepared pr;
  if (!prepare_tuple(t, snap, any, pr) || workers <= 1) return 0;
  return fanout_hash(pr, snap) % workers;
}

Explanation explain_flow(const ExplainTuple& t, const Snapshot& snap, WorkerState& w, uint32_t workers, uint32_t now_ms) {
  Explanation x;
  x.generation = snap.generation;
  x.vip = snap.is_vip(t.dst);
  Prepared pr;
  if (!prepare_tuple(t, snap, w, pr)) {
    if (x.vip) x.reason = pr.reason == DropReason::Count ? DropReason::NoService : pr.reason;
    return x;
  }
  const Service& svc = snap.services[pr.service];
  x.service = pr.service;
  x.key = pr.key;
  x.worker = workers > 1 ? fanout_hash(pr, snap) % workers : 0;
  x.scheduler = svc.spec.scheduler;
  x.flow_key = svc.spec.flow_key;
  for (int i = 0; i < static_cast<int>(svc.spec.servers.size()); ++i)
    if (svc.eligible(i)) x.total_weight += svc.spec.servers[i].weight;

  // New-flow choice, as decide() makes it, on copies: the worker's cursor does not move.
  const Scheduler& sched = scheduler_of(svc.spec.scheduler);
  uint32_t cursor = pr.service < static_cast<int>(w.cursors.size()) ? w.cursors[pr.service] : 0;
  x.position = sched.position(svc, pr.key, cursor);
  x.table_size = static_cast<uint32_t>(svc.table.size());
  ChooseContext ctx{cursor, w.load};
  int chosen = sched.choose(svc, pr.key, ctx);
  x.sorry = chosen < 0 && svc.sorry_index >= 0;
  x.new_server = view(svc, chosen >= 0 ? chosen : svc.sorry_index);
  if (x.new_server.index >= 0) x.load = w.load.get(x.new_server.addr);

  // The entry, read the way decide() reads it.
  if (const FlowEntry* e = w.flows.find(pr.key, pr.hash)) {
    x.has_entry = true;
    x.entry_server_addr = e->server_addr;
    x.entry_server = view(svc, svc.server_index(e->server_addr));
    x.tcp_flags_seen = e->tcp_flags_seen;
    x.age_ms = now_ms - e->created_ms;
    x.idle_ms = now_ms - e->last_seen_ms;
    x.entry_live = x.idle_ms <= w.idle_ms;
    int s = x.entry_live ? x.entry_server.index : -1;
    if (s >= 0 && s != svc.sorry_index && !svc.spec.servers[s].up && svc.spec.reschedule_when_down) s = -1;
    if (s >= 0) {
      x.server = x.entry_server;
      x.from_entry = true;
    }
  }
  if (!x.from_entry) {
    x.server = x.new_server;
    if (x.server.index < 0) x.reason = DropReason::NoServer;
  }
  return x;
}

}  // namespace las
