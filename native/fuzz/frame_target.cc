// libFuzzer target: arbitrary bytes through the per-frame decision of one worker.
//
// Input: [world][step][frame...]
//   world bits 0-1: snapshot (0, 1: the main one; 2: every server down; 3: no services)
//         bits 2-3: the flow table before the frame (full of live flows, full with half of them
//                   idle, half full, empty)
//         bits 4-5: the clock (mid-range, just before the 32-bit millisecond wrap, 0, odd)
//         bits 6-7: which worker (counter block) decides
//   step  bits 0-6: the same frame is decided again `step` seconds later (past the idle timeout
//                   from 61 on), bit 7: the worker sweeps its table in between.
// Each decision is checked: only the MACs of a forwarded frame change, to the chosen server's and
// the egress MAC; an ARP reply keeps its length; anything not sent is left untouched; a forwarded
// frame with at most one VLAN tag gets the same fanout hash from the kernel's BPF program as from
// the worker; a flow forwarded with a table entry keeps its server when decided again within the
// idle timeout, and an ICMP error about its reply goes to that server too. The frame lives in a
// heap buffer of exactly its length, so AddressSanitizer sees any read past it.
#include <cstring>
#include <memory>
#include <vector>

#include "../dataplane/classify.h"
#include "../dataplane/fanout.h"
#include "bpf_interp.h"
#include "check.h"
#include "frame_world.h"

using namespace las;
using namespace las::fuzz;

namespace {

constexpr uint32_t kClocks[] = {1'000'000'000u, 0xffffffffu - 30'000u, 0u, 123'456'789u};

struct World {
  const Snapshot* snap;
  std::vector<sock_filter> fanout;
};

World& world(SnapshotKind kind) {
  static World worlds[3];
  World& w = worlds[static_cast<int>(kind)];
  if (!w.snap) {
    w.snap = &world_snapshot(kind);
    w.fanout = fanout_program(*w.snap);
  }
  return w;
}

WorkerState& worker() {
  static WorkerState* w = [] {
    auto* s = new WorkerState(kFlowCapacity, kIdleMs, 0);
    s->ingress_mac = Mac{{0x02, 0, 0, 0, 0, 0x01}};
    s->egress_mac = Mac{{0x02, 0, 0, 0, 0, 0x02}};
    return s;
  }();
  return *w;
}

void check_decision(const Decision& d, const Prepared& pr, const uint8_t* in, const uint8_t* out, uint32_t len,
                    const World& wd, const WorkerState& w) {
  const Snapshot& snap = *wd.snap;
  LAS_FUZZ_CHECK(static_cast<int>(d.reason) <= kDropReasonCount, "reason %d", static_cast<int>(d.reason));
  switch (d.action) {
    case Action::Forward: {
      LAS_FUZZ_CHECK(d.service >= 0 && d.service < static_cast<int>(snap.services.size()), "service %d", d.service);
      const ServiceSpec& spec = snap.services[d.service].spec;
      LAS_FUZZ_CHECK(d.server >= 0 && d.server < static_cast<int>(spec.servers.size()), "server %d of %zu", d.server,
                     spec.servers.size());
      LAS_FUZZ_CHECK(std::memcmp(out, spec.servers[d.server].mac.bytes, 6) == 0, "destination MAC is not the server's");
      LAS_FUZZ_CHECK(std::memcmp(out + 6, w.egress_mac.bytes, 6) == 0, "source MAC is not the egress MAC");
      LAS_FUZZ_CHECK(std::memcmp(out + 12, in + 12, len - 12) == 0, "a forwarded frame changed beyond its MACs");
      LAS_FUZZ_CHECK(pr.service == d.service, "prepared service %d, decided %d", pr.service, d.service);
      // The kernel's fanout must pick the worker that owns the flow (the ring shows at most one tag),
      // for a v6 flow as for a v4 one.
      if (vlan_tags(in, len) <= 1) {
        BpfResult r = run_fanout_bpf(wd.fanout, in, len);
        LAS_FUZZ_CHECK(r.error.empty(), "fanout program: %s", r.error.c_str());
        uint32_t mine = fanout_hash(pr, snap);
        LAS_FUZZ_CHECK(r.value == mine, "fanout BPF hash %08x, worker hash %08x (service %d)", r.value, mine, d.service);
      }
      break;
    }
    case Action::ArpReply:
      LAS_FUZZ_CHECK(pr.p.kind == FrameKind::Arp, "ARP reply to a frame of kind %d", static_cast<int>(pr.p.kind));
      // Back to the hardware address the request gives for its sender, as Linux answers.
      LAS_FUZZ_CHECK(std::memcmp(out, in + pr.p.l3_offset + 8, 6) == 0, "ARP reply not sent to the requester's MAC");
      LAS_FUZZ_CHECK(std::memcmp(out + 6, w.ingress_mac.bytes, 6) == 0, "ARP reply not from the ingress MAC");
      LAS_FUZZ_CHECK(std::memcmp(out + 12, in + 12, pr.p.l3_offset - 12) == 0, "ARP reply changed the VLAN tags");
      break;
    case Action::NdpReply: {
      // An advertisement for a VIP, from the ingress MAC, checksum right; the solicitation untouched.
      LAS_FUZZ_CHECK(pr.p.kind == FrameKind::Ipv6, "NDP reply to a frame of kind %d", static_cast<int>(pr.p.kind));
      LAS_FUZZ_CHECK(std::memcmp(out, in, len) == 0, "the solicitation was changed");
      const uint32_t l3 = pr.p.l3_offset;
      LAS_FUZZ_CHECK(w.reply_len == l3 + kIpv6HeaderLen + ndp::kNaLen, "advertisement of %u bytes", w.reply_len);
      LAS_FUZZ_CHECK(std::memcmp(w.reply + 6, w.ingress_mac.bytes, 6) == 0, "NDP reply not from the ingress MAC");
      const uint8_t* ip = w.reply + l3;
      LAS_FUZZ_CHECK(snap.is_vip6(ip + 8), "advertisement from an address that is not a VIP");
      LAS_FUZZ_CHECK(ndp::icmpv6_checksum(ip + 8, ip + 24, ip + kIpv6HeaderLen, ndp::kNaLen) == 0, "bad NA checksum");
      break;
    }
    case Action::Drop:
      LAS_FUZZ_CHECK(d.reason != DropReason::Count, "a drop without a reason");
      LAS_FUZZ_CHECK(std::memcmp(out, in, len) == 0, "a frame that is not sent was changed");
      break;
    case Action::Pass:
      LAS_FUZZ_CHECK(d.reason == DropReason::Count, "a passed frame with drop reason %d", static_cast<int>(d.reason));
      LAS_FUZZ_CHECK(std::memcmp(out, in, len) == 0, "a frame that is not sent was changed");
      break;
    default:
      LAS_FUZZ_CHECK(false, "action %d", static_cast<int>(d.action));
  }
  LAS_FUZZ_CHECK(w.flows.size() <= w.flows.capacity(), "%u flows in a table of %u", w.flows.size(), w.flows.capacity());
}

// One decision on a private copy of the frame, of exactly its length.
Decision decide_once(const uint8_t* frame, uint32_t len, const World& wd, WorkerState& w, uint32_t now_ms, Prepared& pr) {
  std::unique_ptr<uint8_t[]> buf(new uint8_t[len ? len : 1]);
  if (len) std::memcpy(buf.get(), frame, len);
  prepare(buf.get(), len, *wd.snap, w, pr);
  Decision d = decide(buf.get(), len, *wd.snap, w, now_ms, pr);
  check_decision(d, pr, frame, buf.get(), len, wd, w);
  return d;
}

// A router's "fragmentation needed" about the server's reply to the flow of `frame` (VIP:dport ->
// client:sport), with the frame's own Ethernet header and VLAN tags.
// The v6 twin: a Packet Too Big from a router, quoting the reply (VIP -> client) of the frame's flow.
std::vector<uint8_t> icmp6_error_about(const uint8_t* frame, const ParsedFrame& p) {
  const uint32_t l3 = p.l3_offset;
  std::vector<uint8_t> out(l3 + 40 + 8 + 40 + 8, 0);
  std::memcpy(out.data(), frame, l3);
  uint8_t* ip = out.data() + l3;
  auto ipv6 = [](uint8_t* h, const uint8_t* src, const uint8_t* dst, uint8_t next, uint16_t payload) {
    h[0] = 0x60;
    store_be16(h + 4, payload);
    h[6] = next;
    h[7] = 64;
    std::memcpy(h + 8, src, 16);
    std::memcpy(h + 24, dst, 16);
  };
  const uint8_t router[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0xf0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
  ipv6(ip, router, p.dst6, kProtoIcmpv6, 8 + 40 + 8);
  ip[40] = kIcmp6PacketTooBig;
  store_be32(ip + 44, 1280);
  ipv6(ip + 48, p.dst6, p.src6, p.proto, 8);
  store_be16(ip + 88, p.dport);
  store_be16(ip + 90, p.sport);
  return out;
}

std::vector<uint8_t> icmp_error_about(const uint8_t* frame, const ParsedFrame& p) {
  if (p.kind == FrameKind::Ipv6) return icmp6_error_about(frame, p);
  const uint32_t l3 = p.l3_offset;
  std::vector<uint8_t> out(l3 + 20 + 8 + 20 + 8, 0);
  std::memcpy(out.data(), frame, l3);
  uint8_t* ip = out.data() + l3;
  auto ipv4 = [](uint8_t* h, uint32_t src, uint32_t dst, uint8_t proto, uint16_t total) {
    h[0] = 0x45;
    store_be16(h + 2, total);
    h[8] = 64;
    h[9] = proto;
    store_be32(h + 12, src);
    store_be32(h + 16, dst);
  };
  ipv4(ip, ip4(198, 51, 100, 1), p.dst, kProtoIcmp, 20 + 8 + 20 + 8);
  ip[20] = kIcmpDestUnreachable;
  ip[21] = 4;
  ipv4(ip + 28, p.dst, p.src, p.proto, 20 + 8);
  store_be16(ip + 48, p.dport);
  store_be16(ip + 50, p.sport);
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2 || size > 70'000) return -1;  // a frame is at most a 64 KiB super-frame and its headers
  const uint8_t world_bits = data[0], step = data[1];
  const uint8_t* frame = data + 2;
  const uint32_t len = static_cast<uint32_t>(size - 2);

  const int snap_bits = world_bits & 3;
  const SnapshotKind kind = snap_bits == 2 ? SnapshotKind::AllDown : snap_bits == 3 ? SnapshotKind::Empty : SnapshotKind::Main;
  const World& wd = world(kind);
  WorkerState& w = worker();
  w.index = (world_bits >> 6) & 3;
  w.adopt(*wd.snap);
  const uint32_t now = kClocks[(world_bits >> 4) & 3];
  fill_flows(w, *wd.snap, static_cast<TableFill>((world_bits >> 2) & 3), now);

  Prepared first, second;
  const Decision d1 = decide_once(frame, len, wd, w, now, first);
  // A forwarded flow frame that left an entry (the table had room, or held the flow already).
  const bool tracked = d1.action == Action::Forward && !first.icmp_error &&
                       (first.v6 ? w.flows6.find(first.key6, first.hash) != nullptr : w.flows.find(first.key, first.hash) != nullptr);
  // An ICMP error about that flow's reply goes to the flow's server.
  if (tracked && first.p.has_ports) {
    const std::vector<uint8_t> icmp = icmp_error_about(frame, first.p);
    Prepared pr;
    const Decision d = decide_once(icmp.data(), static_cast<uint32_t>(icmp.size()), wd, w, now, pr);
    LAS_FUZZ_CHECK(d.action == Action::Forward && d.server == d1.server && d.service == d1.service,
                   "ICMP error about a flow of server %d (service %d): action %d, server %d (service %d)", d1.server,
                   d1.service, static_cast<int>(d.action), d.server, d.service);
  }
  const uint32_t delta = (step & 0x7f) * 1000u, later = now + delta;
  if (step & 0x80) w.sweep(later, 2 * (w.flows.slots() > w.flows6.slots() ? w.flows.slots() : w.flows6.slots()));
  const Decision d2 = decide_once(frame, len, wd, w, later, second);
  // Within the idle timeout a flow keeps its server, whatever the scheduler, a sweep included.
  if (tracked && delta <= kIdleMs)
    LAS_FUZZ_CHECK(d2.action == Action::Forward && d2.server == d1.server, "flow moved from server %d to %d (action %d) after %u ms",
                   d1.server, d2.server, static_cast<int>(d2.action), delta);

  empty_flows_and_check_load(w, later, world_server_addresses());
  return 0;
}
