#include "explain.h"

#include <cstring>

#include "../packet/bytes.h"
#include "../packet/consts.h"
#include "fanout.h"

namespace las {

namespace {

constexpr uint32_t kFrameLen = kEthHeaderLen + kIpv6HeaderLen + kTcpMinHeaderLen;  // room for either family

// The first frame of the flow as a client would send it (a bare SYN for TCP), so prepare() finds
// the service and builds the key exactly as for real traffic.
uint32_t build_frame(const ExplainTuple& t, uint8_t (&f)[kFrameLen]) {
  std::memset(f, 0, sizeof f);
  uint8_t* ip = f + kEthHeaderLen;
  const uint32_t l4 = t.proto == kProtoTcp ? kTcpMinHeaderLen : 8;
  uint32_t l3_len;
  if (t.family == 6) {
    store_be16(f + 12, kEthIpv6);
    ip[0] = 0x60;
    store_be16(ip + 4, static_cast<uint16_t>(l4));
    ip[6] = t.proto;
    ip[7] = 64;
    std::memcpy(ip + 8, t.src6, 16);
    std::memcpy(ip + 24, t.dst6, 16);
    l3_len = kIpv6HeaderLen;
  } else {
    store_be16(f + 12, kEthIpv4);
    ip[0] = 0x45;
    store_be16(ip + 2, static_cast<uint16_t>(kIpv4MinHeaderLen + l4));
    ip[8] = 64;
    ip[9] = t.proto;
    store_be32(ip + 12, t.src);
    store_be32(ip + 16, t.dst);
    l3_len = kIpv4MinHeaderLen;
  }
  uint8_t* p = ip + l3_len;
  store_be16(p, t.sport);
  store_be16(p + 2, t.dport);
  if (t.proto == kProtoTcp) {
    p[12] = 5 << 4;
    p[13] = kTcpSyn;
  } else {
    store_be16(p + 4, 8);
  }
  return kEthHeaderLen + l3_len + l4;
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
  v.index = i;
  v.addr = s.addr;
  std::memcpy(v.addr6, s.addr6, 16);
  v.weight = s.weight;
  v.up = s.up;
  v.sorry = i == svc.sorry_index;
  return v;
}

// What an entry says about the flow (either family's entry has the same fields).
template <typename Entry>
void read_entry(Explanation& x, const Entry& entry, const Service& svc, const WorkerState& w, uint32_t now_ms) {
  const Entry* e = &entry;  x.has_entry = true;
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

}  // namespace

uint32_t explain_worker(const ExplainTuple& t, const Snapshot& snap, WorkerState& any, uint32_t workers) {
  Prepared pr;
  if (!prepare_tuple(t, snap, any, pr) || workers <= 1) return 0;
  return fanout_hash(pr, snap) % workers;
}

Explanation explain_flow(const ExplainTuple& t, const Snapshot& snap, WorkerState& w, uint32_t workers, uint32_t now_ms) {
  Explanation x;
  x.generation = snap.generation;
  x.family = t.family;
  std::memcpy(x.client6, t.src6, 16);
  std::memcpy(x.vip6, t.dst6, 16);
  x.vip = t.family == 6 ? snap.is_vip6(t.dst6) : snap.is_vip(t.dst);
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

  // The entry, read the way decide() reads it, in the table of the flow's family.
  if (pr.v6) {
    if (const FlowEntry6* e = w.flows6.find(pr.key6, pr.hash)) read_entry(x, *e, svc, w, now_ms);
  } else if (const FlowEntry* e = w.flows.find(pr.key, pr.hash)) {
    read_entry(x, *e, svc, w, now_ms);
  }
  if (!x.from_entry) {
    x.server = x.new_server;
    if (x.server.index < 0) x.reason = DropReason::NoServer;
    int previous = t.proto == kProtoTcp ? svc.previous_choice(pr.key, now_ms) : -1;
    if (previous >= 0 && previous != x.new_server.index) {
      x.second_chance = view(svc, previous);
      int32_t elapsed = static_cast<int32_t>(now_ms - svc.previous_from_ms);
      x.second_chance_left_ms = svc.previous_window_ms - static_cast<uint32_t>(elapsed > 0 ? elapsed : 0);
    }
  }
  return x;
}

}  // namespace las
