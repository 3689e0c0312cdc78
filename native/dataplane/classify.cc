#include "classify.h"

#include <cstring>

#include "../packet/arp.h"
#include "../packet/checksum.h"
#include "../packet/parse.h"

namespace las {

namespace {

Decision drop(WorkerState& w, DropReason r) {
  w.counters.drop(r);
  return Decision{Action::Drop, r, -1, -1};
}

int schedule(const Service& svc, WorkerState& w, uint32_t service_index, const FlowKeyFields& key) {
  if (svc.spec.scheduler == SchedulerKind::Maglev) {
    if (svc.maglev.empty()) return -1;
    uint16_t s = svc.maglev[hash_flow(key, kMaglevFlowSeed) % svc.maglev.size()];
    return s == kNoServer ? -1 : s;
  }
  if (svc.wrr.empty()) return -1;
  uint32_t& cursor = w.wrr_cursor[service_index];
  uint16_t s = svc.wrr[cursor % svc.wrr.size()];
  ++cursor;
  return s;
}

}  // namespace

Decision classify(uint8_t* frame, uint32_t len, bool csum_not_ready, const Snapshot& snap, WorkerState& w,
                  uint32_t now_ms) {
  ParsedFrame p = parse_frame(frame, len);
  if (p.kind == FrameKind::Malformed) return drop(w, p.reason);
  if (p.kind == FrameKind::Other) return drop(w, DropReason::NotIpv4);

  if (p.kind == FrameKind::Arp) {
    ArpRequest req = parse_arp_request(frame, len, p.l3_offset);
    if (!req.valid) {
      // Replies and other ARP ops are not for us to act on; a request too short to read is malformed.
      return drop(w, len < p.l3_offset + kArpIpv4Len ? DropReason::BadArp : DropReason::ArpIgnored);
    }
    if (!snap.is_vip(req.target_ip)) return drop(w, DropReason::ArpIgnored);
    arp_reply_in_place(frame, p.l3_offset, w.ingress_mac);
    w.counters.arp_replies.add(1);
    return Decision{Action::ArpReply, DropReason::Count, -1, -1};
  }

  if (!snap.is_vip(p.dst)) {
    w.counters.drop(DropReason::NotVip);
    return Decision{Action::Pass, DropReason::NotVip, -1, -1};
  }

  int si = snap.find_service(p.dst, p.has_ports ? p.dport : 0, p.proto);
  if (si < 0) return drop(w, DropReason::NoService);
  const Service& svc = snap.services[si];
  bool by_addresses = svc.spec.flow_key == FlowKeyMode::Addresses;
  // Without ports only the address pair can key a flow; a 5-tuple service cannot place a fragment.
  if (p.is_fragment && !by_addresses) return drop(w, DropReason::Fragment);

  FlowKeyFields key{p.src, p.dst, 0, svc.spec.port, p.proto};
  if (!by_addresses) {
    key.sport = p.sport;
    key.dport = p.dport;
  }
  ServiceCounters& sc = snap.counters[w.index].services[si];
  uint64_t h = hash_flow(key, kFlowTableSeed);
  FlowEntry* e = w.flows.find(key, h);
  int server = -1;
  if (e) {
    if (now_ms - e->last_seen_ms > w.idle_ms) {
      e->tcp_flags_seen = 0;  // expired but not yet swept: a new flow in the old slot
      e->created_ms = now_ms;
    } else {
      server = svc.server_index(e->server_addr);
      // A drained server keeps its flows; a removed one does not exist here any more.
    }
  }
  bool new_flow = server < 0;
  if (new_flow) {
    server = schedule(svc, w, static_cast<uint32_t>(si), key);
    if (server < 0) {
      sc.no_server.add(1);
      return drop(w, DropReason::NoServer);
    }
    if (!e) {
      e = w.flows.insert(key, h);
      if (e) {
        e->created_ms = now_ms;
      } else {
        w.counters.flow_table_full.add(1);  // forwarded statelessly: Maglev still picks consistently
      }
    }
    if (e) e->server_addr = svc.spec.servers[server].addr;
  }
  if (e) {
    e->last_seen_ms = now_ms;
    if (p.proto == kProtoTcp) e->tcp_flags_seen |= p.tcp_flags & (kTcpSyn | kTcpFin | kTcpRst);
  }

  if (csum_not_ready && !p.is_fragment &&
      complete_l4_checksum(frame, p.l3_offset, p.l4_offset, p.ip_end, p.proto)) {
    w.counters.checksums_completed.add(1);
  }
  const ServerSpec& target = svc.spec.servers[server];
  std::memcpy(frame, target.mac.bytes, 6);
  std::memcpy(frame + 6, w.egress_mac.bytes, 6);

  sc.packets.add(1);
  sc.bytes.add(len);
  ServerCounters& rc = snap.counters[w.index].servers[svc.first_server + server];
  rc.packets.add(1);
  rc.bytes.add(len);
  if (new_flow) {
    sc.new_flows.add(1);
    rc.new_flows.add(1);
  }
  return Decision{Action::Forward, DropReason::Count, si, server};
}

}  // namespace las
