#include "classify.h"

#include <cstring>

#include "../packet/arp.h"
#include "../packet/parse.h"

namespace las {

namespace {

Decision drop(WorkerState& w, DropReason r) {
  w.counters.drop(r);
  return Decision{Action::Drop, r, -1, -1};
}

// The flow part of decide(), for the flow table of the frame's family (defined below decide()).
template <typename Table>
Decision decide_flow(uint8_t* frame, uint32_t len, const Snapshot& snap, WorkerState& w, uint32_t now_ms,
                     const Prepared& pr, Table& table, const typename Table::Key& table_key);

// Chooses the server for a new flow, or the sorry server, or -1.
int schedule(const Service& svc, WorkerState& w, uint32_t service_index, const FlowKeyFields& key) {
  ChooseContext ctx{w.cursors[service_index], w.load};
  int s = scheduler_of(svc.spec.scheduler).choose(svc, key, ctx);
  return s >= 0 ? s : svc.sorry_index;
}

// The server of a flow that has no entry (table full): a pure function of the flow and the snapshot.
int stateless_server(const Service& svc, const FlowKeyFields& key, int scheduled) {
  if (scheduled == svc.sorry_index) return scheduled;
  int s = scheduler_of(svc.spec.scheduler).without_entry(svc, key);
  return s >= 0 ? s : scheduled;
}

void rewrite_macs(uint8_t* frame, const ServerSpec& target, const WorkerState& w) {
  std::memcpy(frame, target.mac.bytes, 6);
  std::memcpy(frame + 6, w.egress_mac.bytes, 6);
}

// An ICMP error about a packet a server sent from the VIP goes to the server that owns that flow.
Decision forward_icmp_error(uint8_t* frame, uint32_t len, const Prepared& pr, const Snapshot& snap, WorkerState& w, uint32_t now_ms) {
  const int si = pr.service;
  const Service& svc = snap.services[si];
  int server = -1;
  if (pr.v6) {
    if (const FlowEntry6* e = w.flows6.find(pr.key6, pr.hash)) server = svc.server_index(e->server_addr);
  } else if (const FlowEntry* e = w.flows.find(pr.key, pr.hash)) {
    server = svc.server_index(e->server_addr);
  }
  // Without an entry, only a stateless scheduler can still name the owner.
  if (server < 0 && scheduler_of(svc.spec.scheduler).stateless) {
    server = schedule(svc, w, static_cast<uint32_t>(si), pr.key);
    // A TCP connection without an entry here predates the last server change as a packet without
    // SYN does (second chance): its owner is the previous table's choice.
    int previous = pr.key.proto == kProtoTcp ? svc.previous_choice(pr.key, now_ms) : -1;
    if (previous >= 0 && previous != server) {
      server = previous;
      w.counters.second_chance.add(1);
    }
  }
  if (server < 0) return drop(w, DropReason::IcmpNoFlow);
  rewrite_macs(frame, svc.spec.servers[server], w);
  // Traffic of the service like any forwarded frame (so a service's packets add up to its servers'),
  // but no new flow.
  ServiceCounters& sc = snap.counters[w.index].services[si];
  sc.packets.add(1);
  sc.bytes.add(len);
  ServerCounters& rc = snap.counters[w.index].servers[svc.first_server + server];
  rc.packets.add(1);
  rc.bytes.add(len);
  return Decision{Action::Forward, DropReason::Count, si, server};
}

// The flow an ICMP error quotes (IPv4 + the first 8 bytes of TCP/UDP, sent from the VIP to a client),
// as the key of the client's flow.
void prepare_icmp_error(const uint8_t* frame, const ParsedFrame& p, const Snapshot& snap, Prepared& out) {
  out.icmp_error = true;
  const uint32_t inner = p.l4_offset + kIcmpHeaderLen;
  if (p.ip_end < inner + kIpv4MinHeaderLen) {
    out.reason = DropReason::TruncatedL4;
    return;
  }
  const uint8_t* ip = frame + inner;
  uint32_t ihl = static_cast<uint32_t>(ip[0] & 0x0f) * 4;
  if ((ip[0] >> 4) != 4 || ihl < kIpv4MinHeaderLen || p.ip_end < inner + ihl + 8) {
    out.reason = DropReason::TruncatedL4;
    return;
  }
  uint8_t proto = ip[9];
  uint32_t vip = load_be32(ip + 12);
  uint32_t client = load_be32(ip + 16);
  uint16_t vport = load_be16(ip + ihl);
  uint16_t cport = load_be16(ip + ihl + 2);
  int si = snap.is_vip(vip) ? snap.find_service(vip, vport, proto) : -1;
  if (si < 0) {
    out.reason = DropReason::IcmpNoFlow;
    return;
  }
  const Service& svc = snap.services[si];
  out.service = si;
  out.key = FlowKeyFields{client, vip, 0, svc.spec.port, proto};
  if (svc.spec.flow_key == FlowKeyMode::FiveTuple) {
    out.key.sport = cport;
    out.key.dport = vport;
  }
}

// The v6 twin of prepare_icmp_error: an ICMPv6 error quotes the IPv6 packet (with whatever
// extension headers it had) that a server sent from a v6 VIP to a client.
void prepare_icmp6_error(const uint8_t* frame, const ParsedFrame& p, const Snapshot& snap, Prepared& out) {
  out.icmp_error = true;
  const uint32_t inner = p.l4_offset + kIcmpHeaderLen;
  if (p.ip_end < inner + kIpv6HeaderLen || (frame[inner] >> 4) != 6) {
    out.reason = DropReason::TruncatedL4;
    return;
  }
  const uint8_t* ip = frame + inner;
  Ipv6Chain c = walk_ipv6_chain(frame, inner + kIpv6HeaderLen, p.ip_end, ip[6]);
  if (c.reason != DropReason::Count) {
    out.reason = c.reason;
    return;
  }
  if (c.later_fragment) {  // no ports quoted: nothing names the flow
    out.reason = DropReason::IcmpNoFlow;
    return;
  }
  if (p.ip_end < c.l4_offset + 8) {
    out.reason = DropReason::TruncatedL4;
    return;
  }
  const uint8_t* vip = ip + 8;
  const uint8_t* client = ip + 24;
  uint16_t vport = load_be16(frame + c.l4_offset);
  uint16_t cport = load_be16(frame + c.l4_offset + 2);
  int si = snap.is_vip6(vip) ? snap.find_service6(vip, vport, c.proto) : -1;
  if (si < 0) {
    out.reason = DropReason::IcmpNoFlow;
    return;
  }
  const Service& svc = snap.services[si];
  out.service = si;
  out.key = FlowKeyFields{fold_ipv6(client), fold_ipv6(vip), 0, svc.spec.port, c.proto};
  if (svc.spec.flow_key == FlowKeyMode::FiveTuple) {
    out.key.sport = cport;
    out.key.dport = vport;
  }
  std::memcpy(out.key6.src, client, 16);
  std::memcpy(out.key6.dst, vip, 16);
}

bool is_icmp_error(const uint8_t* frame, const ParsedFrame& p) {
  if (p.is_fragment || p.ip_end < p.l4_offset + kIcmpHeaderLen) return false;
  const uint8_t type = frame[p.l4_offset];
  if (p.kind == FrameKind::Ipv6)
    return p.proto == kProtoIcmpv6 && type >= kIcmp6DestUnreachable && type <= kIcmp6ParamProblem;
  return p.proto == kProtoIcmp && (type == kIcmpDestUnreachable || type == kIcmpTimeExceeded);
}

// The flow-table hash of a prepared key, and its prefetch, in the table of the frame's family.
void hash_and_prefetch(Prepared& out, WorkerState& w) {
  if (out.v6) {
    out.key6.sport = out.key.sport;
    out.key6.dport = out.key.dport;
    out.key6.proto = out.key.proto;
    out.hash = hash_flow6(out.key6, kFlowTableSeed);
    w.flows6.prefetch(out.hash);
  } else {
    out.hash = hash_flow(out.key, kFlowTableSeed);
    w.flows.prefetch(out.hash);
  }
}

}  // namespace

void prepare(const uint8_t* frame, uint32_t len, const Snapshot& snap, WorkerState& w, Prepared& out) {
  out.p = parse_frame(frame, len);
  out.service = -1;
  out.reason = DropReason::Count;
  out.icmp_error = false;
  const ParsedFrame& p = out.p;
  out.v6 = p.kind == FrameKind::Ipv6;
  out.vip = out.v6 ? snap.is_vip6(p.dst6) : p.kind == FrameKind::Ipv4 && snap.is_vip(p.dst);
  if (!out.vip) return;
  if (is_icmp_error(frame, p)) {
    if (out.v6) prepare_icmp6_error(frame, p, snap, out);
    else prepare_icmp_error(frame, p, snap, out);
    if (out.service >= 0) hash_and_prefetch(out, w);
    return;
  }
  int si;
  if (p.has_ports || !p.is_fragment) {
    const uint16_t port = p.has_ports ? p.dport : 0;
    si = out.v6 ? snap.find_service6(p.dst6, port, p.proto) : snap.find_service(p.dst, port, p.proto);
    if (si < 0) {
      out.reason = DropReason::NoService;
      return;
    }
  } else {
    // A later fragment: no ports to look at.
    si = out.v6 ? snap.find_fragment_service6(p.dst6, p.proto) : snap.find_fragment_service(p.dst, p.proto);
    if (si < 0) {
      out.reason = DropReason::Fragment;
      return;
    }
  }
  const Service& svc = snap.services[si];
  bool by_addresses = svc.spec.flow_key == FlowKeyMode::Addresses;
  // Without ports only the address pair can key a flow; a 5-tuple service cannot place a fragment.
  if (p.is_fragment && !by_addresses) {
    out.reason = DropReason::Fragment;
    return;
  }
  out.service = si;
  out.key = FlowKeyFields{p.src, p.dst, 0, svc.spec.port, p.proto};  // v6: the folds
  if (!by_addresses) {
    out.key.sport = p.sport;
    out.key.dport = p.dport;
  }
  if (out.v6) {
    std::memcpy(out.key6.src, p.src6, 16);
    std::memcpy(out.key6.dst, p.dst6, 16);
  }
  hash_and_prefetch(out, w);
}

Decision decide(uint8_t* frame, uint32_t len, const Snapshot& snap, WorkerState& w, uint32_t now_ms,
                const Prepared& pr) {
  const ParsedFrame& p = pr.p;
  if (p.kind == FrameKind::Malformed) return drop(w, p.reason);
  if (p.kind == FrameKind::Other) return drop(w, DropReason::NotIpv4);

  if (p.kind == FrameKind::Arp) {
    ArpRequest req = parse_arp_request(frame, len, p.l3_offset);
    if (!req.valid) {
      // Replies and other ARP ops are not for us to act on; a request too short to read is malformed.
      return drop(w, len < p.l3_offset + kArpIpv4Len ? DropReason::BadArp : DropReason::ArpIgnored);
    }
    // A gratuitous ARP (sender == target) is an announcement, not a question: answering another
    // host's claim on a VIP would fight a standby dispatcher taking over.
    if (!snap.is_vip(req.target_ip) || req.sender_ip == req.target_ip) return drop(w, DropReason::ArpIgnored);
    arp_reply_in_place(frame, p.l3_offset, w.ingress_mac);
    w.counters.arp_replies.add(1);
    return Decision{Action::ArpReply, DropReason::Count, -1, -1};
  }

  // A Neighbor Solicitation: answered for a v6 VIP, left to the kernel for any other target.
  if (p.kind == FrameKind::Ipv6 && p.proto == kProtoIcmpv6 && !p.is_fragment) {
    const ndp::NeighborSolicit ns = ndp::parse_neighbor_solicit(frame, len, p.l3_offset);
    if (ns.check == ndp::NsCheck::Malformed) return drop(w, DropReason::BadNdp);
    if (ns.check == ndp::NsCheck::Valid) {
      if (!snap.is_vip6(ns.target)) {
        w.counters.passed.add(1);
        return Decision{Action::Pass, DropReason::Count, -1, -1};
      }
      w.reply_len = ndp::build_solicited_advert(w.reply, frame, p.l3_offset, ns, w.ingress_mac);
      w.counters.ndp_adverts.add(1);
      return Decision{Action::NdpReply, DropReason::Count, -1, -1};
    }
  }

  if (!pr.vip) {
    // Not ours: the kernel has its own copy of the frame. Counted apart, so drops stay drops.
    w.counters.passed.add(1);
    return Decision{Action::Pass, DropReason::Count, -1, -1};
  }
  if (pr.reason != DropReason::Count) return drop(w, pr.reason);
  if (pr.icmp_error) return forward_icmp_error(frame, len, pr, snap, w, now_ms);

  return pr.v6 ? decide_flow(frame, len, snap, w, now_ms, pr, w.flows6, pr.key6)
               : decide_flow(frame, len, snap, w, now_ms, pr, w.flows, pr.key);
}

namespace {

// A flow packet of a VIP: find or place its flow in the table of its family (v4 or v6 entries;
// the schedulers see the v4-shaped key either way).
template <typename Table>
Decision decide_flow(uint8_t* frame, uint32_t len, const Snapshot& snap, WorkerState& w, uint32_t now_ms,
                     const Prepared& pr, Table& table, const typename Table::Key& table_key) {
  const ParsedFrame& p = pr.p;
  const int si = pr.service;
  const Service& svc = snap.services[si];
  const FlowKeyFields& key = pr.key;
  const uint64_t h = pr.hash;
  ServiceCounters& sc = snap.counters[w.index].services[si];
  auto* e = table.find(table_key, h);
  int server = -1;
  if (e && now_ms - e->last_seen_ms <= w.idle_ms) {
    server = svc.server_index(e->server_addr);
    // A drained server (weight 0) keeps its flows; a dead one keeps them only under the "keep" policy.
    if (server >= 0 && server != svc.sorry_index && !svc.spec.servers[server].up && svc.spec.reschedule_when_down)
      server = -1;
  }
  bool new_flow = server < 0;
  if (new_flow) {
    server = schedule(svc, w, static_cast<uint32_t>(si), key);
    if (server < 0) {
      sc.no_server.add(1);
      return drop(w, DropReason::NoServer);
    }
    if (e) {
      w.load.add(e->server_addr, -1);  // the entry changes hands (expired, or its server went away)
      e->tcp_flags_seen = 0;
    } else {
      // A TCP packet other than a SYN with no entry belongs to a connection placed while the table
      // was full: it keeps the server that stateless choice gave it, also once there is room again.
      if (p.proto == kProtoTcp && (p.tcp_flags & kTcpSyn) == 0) server = stateless_server(svc, key, server);
      e = table.insert(table_key, h);
      if (!e) {
        // Full: forwarded without an entry, so every packet of this flow is decided afresh and must get
        // the same answer (Scheduler::without_entry).
        w.counters.flow_table_full.add(1);
        server = stateless_server(svc, key, server);
      }
    }
    // Second chance: a TCP packet other than a SYN with no live entry belongs to a connection placed
    // before the service's servers changed, on another dispatcher (its route moved here) or by this
    // one (its entry expired); the table before the change names its server. A SYN takes the new one.
    if (p.proto == kProtoTcp && (p.tcp_flags & kTcpSyn) == 0 && svc.previous_active(now_ms)) {
      int previous = svc.previous_choice(key, now_ms);
      if (previous >= 0 && previous != server) {
        server = previous;
        w.counters.second_chance.add(1);
      }
    }
    if (e) {
      e->server_addr = svc.spec.servers[server].addr;
      e->created_ms = now_ms;
      seal(*e);
      w.load.add(e->server_addr, 1);
    }
  }
  if (e) {
    e->last_seen_ms = now_ms;
    if (p.proto == kProtoTcp) {
      // A bare SYN starts a connection (or reuses the port); otherwise remember FIN, RST and ACK for aging.
      if ((p.tcp_flags & (kTcpSyn | kTcpAck)) == kTcpSyn) e->tcp_flags_seen = kTcpSyn;
      else e->tcp_flags_seen |= p.tcp_flags & (kTcpFin | kTcpRst | kTcpAck);
    }
  }

  rewrite_macs(frame, svc.spec.servers[server], w);

  sc.packets.add(1);
  sc.bytes.add(len);
  ServerCounters& rc = snap.counters[w.index].servers[svc.first_server + server];
  rc.packets.add(1);
  rc.bytes.add(len);
  if (new_flow) {
    sc.new_flows.add(1);
    rc.new_flows.add(1);
  }
  return Decision{Action::Forward, DropReason::Count, si, server, new_flow};
}

}  // namespace

}  // namespace las
