// libFuzzer target: the C++ layer below the N-API conversion. Fuzzed service specs (counts, ports,
// weights, Maglev sizes, schedulers, sorry servers, duplicates; format in config_input.h) become a
// Snapshot, its Maglev and weighted round-robin tables and the kernel fanout program, and each is
// checked: every service is found by its own (VIP, port, protocol), every server by its address;
// Maglev tables have their size and only name servers that may take flows, with no empty slot
// while one can; round-robin sequences likewise (rr, wrr, and wlc's for flows a full table cannot
// hold); and for a flow of every service, an ICMP error quoting it and a fragment, the fanout
// program (run by bpf_interp.h) returns the worker's own hash.
// The frames are then decided by a worker, as the frame target does. Then a second snapshot with
// some servers gone, down or reweighted keeps the first's tables (second chance): each previous
// table has the service's table size and names only servers of the new snapshot, and TCP packets
// without SYN of the same flows are decided on it.
#include <cstring>
#include <stdexcept>

#include "../dataplane/classify.h"
#include "../dataplane/fanout.h"
#include "../packet/bytes.h"
#include "bpf_interp.h"
#include "check.h"
#include "config_input.h"
#include "frame_world.h"

using namespace las;
using namespace las::fuzz;

namespace {

// Ethernet + IPv4 (no options) + the start of an L4 header, untagged or with one 802.1Q tag.
struct FrameBuilder {
  uint8_t b[128] = {};
  uint32_t ip = 14;
  explicit FrameBuilder(bool tagged) {
    std::memcpy(b, "\x02\x00\x00\x00\x00\x01\x02\x00\x00\x00\x00\xc1", 12);
    if (tagged) {
      store_be16(b + 12, 0x8100);
      store_be16(b + 14, 42);
      ip = 18;
    }
    store_be16(b + ip - 2, kEthIpv4);
  }
  // IPv4 header at `at`; returns the L4 offset.
  uint32_t ipv4(uint32_t at, uint32_t src, uint32_t dst, uint8_t proto, uint16_t total, uint16_t frag) {
    b[at] = 0x45;
    store_be16(b + at + 2, total);
    store_be16(b + at + 6, frag);
    b[at + 8] = 64;
    b[at + 9] = proto;
    store_be32(b + at + 12, src);
    store_be32(b + at + 16, dst);
    return at + 20;
  }
  uint32_t flow(uint32_t client, uint32_t vip, uint8_t proto, uint16_t sport, uint16_t dport, uint8_t tcp_flags = kTcpSyn) {
    const uint16_t l4 = proto == kProtoTcp ? 20 : 8;
    uint32_t at = ipv4(ip, client, vip, proto, static_cast<uint16_t>(20 + l4), 0);
    store_be16(b + at, sport);
    store_be16(b + at + 2, dport);
    if (proto == kProtoTcp) {
      b[at + 12] = 0x50;
      b[at + 13] = tcp_flags;
    } else {
      store_be16(b + at + 4, 8);
    }
    return at + l4;
  }
  // A router's "fragmentation needed" about the server's reply vip:vport -> client:cport.
  uint32_t icmp_error(uint32_t client, uint32_t vip, uint8_t proto, uint16_t vport, uint16_t cport) {
    uint32_t at = ipv4(ip, ip4(198, 51, 100, 1), vip, kProtoIcmp, 20 + 8 + 20 + 8, 0);
    b[at] = kIcmpDestUnreachable;
    b[at + 1] = 4;
    uint32_t inner = ipv4(at + 8, vip, client, proto, 20 + 8, 0x4000);
    store_be16(b + inner, vport);
    store_be16(b + inner + 2, cport);
    return inner + 8;
  }
  uint32_t later_fragment(uint32_t client, uint32_t vip, uint8_t proto) {
    return ipv4(ip, client, vip, proto, 20 + 16, 185) + 16;
  }
};

void check_tables(const Snapshot& snap) {
  for (size_t i = 0; i < snap.services.size(); ++i) {
    const Service& svc = snap.services[i];
    const ServiceSpec& sp = svc.spec;
    int found = snap.find_service(sp.vip, sp.port, sp.proto);
    LAS_FUZZ_CHECK(found >= 0, "service %zu not found by its own key", i);
    const ServiceSpec& f = snap.services[found].spec;
    LAS_FUZZ_CHECK(f.vip == sp.vip && f.port == sp.port && f.proto == sp.proto, "service %zu found as %d", i, found);
    LAS_FUZZ_CHECK(snap.is_vip(sp.vip), "VIP of service %zu unknown", i);
    for (size_t j = 0; j < sp.servers.size(); ++j) {
      int k = svc.server_index(sp.servers[j].addr);
      LAS_FUZZ_CHECK(k >= 0 && sp.servers[k].addr == sp.servers[j].addr, "service %zu server %zu found as %d", i, j, k);
    }
    LAS_FUZZ_CHECK(svc.server_index(ip4(10, 0, 2, 1)) == -1, "an address no server has was found");
    bool any_eligible = false;
    for (int j = 0; j < static_cast<int>(sp.servers.size()); ++j) any_eligible |= svc.eligible(j);
    const int real = svc.sorry_index >= 0 ? svc.sorry_index : static_cast<int>(sp.servers.size());
    if (scheduler_of(sp.scheduler).table_size) {
      LAS_FUZZ_CHECK(svc.table.size() == sp.maglev_size, "service %zu: Maglev table of %zu slots, size %u", i,
                     svc.table.size(), sp.maglev_size);
      for (uint16_t slot : svc.table) {
        if (slot == kNoServer) {
          LAS_FUZZ_CHECK(!any_eligible, "service %zu: an empty Maglev slot although a server can take flows", i);
          continue;
        }
        LAS_FUZZ_CHECK(slot < real && svc.eligible(slot), "service %zu: Maglev slot names server %u, not eligible", i, slot);
      }
    } else {  // a weighted sequence
      LAS_FUZZ_CHECK(svc.table.empty() != any_eligible, "service %zu: round-robin sequence of %zu with%s eligible servers", i,
                     svc.table.size(), any_eligible ? "" : "out");
      LAS_FUZZ_CHECK(svc.table.size() <= 65536 + sp.servers.size(), "service %zu: sequence of %zu", i, svc.table.size());
      for (uint16_t s : svc.table)
        LAS_FUZZ_CHECK(s < real && svc.eligible(s), "service %zu: round-robin names server %u, not eligible", i, s);
    }
  }
  LAS_FUZZ_CHECK(!snap.is_vip(ip4(10, 0, 9, 1)), "a VIP no service has");
}

// The BPF program and the worker agree on the frame's hash; the decision names a real server.
void check_frame(const uint8_t* frame, uint32_t len, const Snapshot& snap, const std::vector<sock_filter>& prog,
                 WorkerState& w, uint32_t now) {
  uint8_t copy[128];
  std::memcpy(copy, frame, len);
  Prepared pr;
  prepare(copy, len, snap, w, pr);
  if (pr.service >= 0) {
    const ServiceSpec& sp = snap.services[pr.service].spec;
    LAS_FUZZ_CHECK(sp.vip == pr.key.dst && sp.proto == pr.key.proto, "frame matched service %d of another VIP", pr.service);
    BpfResult r = run_fanout_bpf(prog, frame, len);
    LAS_FUZZ_CHECK(r.error.empty(), "fanout program: %s", r.error.c_str());
    LAS_FUZZ_CHECK(r.value == fanout_hash(pr, snap), "fanout BPF hash %08x, worker hash %08x (service %d)", r.value,
                   fanout_hash(pr, snap), pr.service);
  }
  Decision d = decide(copy, len, snap, w, now, pr);
  if (d.action == Action::Forward) {
    const ServiceSpec& sp = snap.services[d.service].spec;
    LAS_FUZZ_CHECK(d.server >= 0 && d.server < static_cast<int>(sp.servers.size()), "server %d of %zu", d.server,
                   sp.servers.size());
    LAS_FUZZ_CHECK(std::memcmp(copy, sp.servers[d.server].mac.bytes, 6) == 0, "destination MAC is not the server's");
  }
}

WorkerState& worker() {
  static WorkerState* w = new WorkerState(kFlowCapacity, kIdleMs, 0);
  return *w;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  ByteReader in(data, size);
  std::vector<ServiceSpec> specs = read_specs(in);
  const uint32_t workers = 1 + in.u8() % kWorkers;
  Snapshot snap(specs, workers, 1);
  check_tables(snap);

  std::vector<sock_filter> prog;
  try {
    prog = fanout_program(snap);
  } catch (const std::runtime_error&) {
    return 0;  // more than the kernel's 4096 instructions: refused with a message at reload
  }

  WorkerState& w = worker();
  w.index = workers - 1;
  w.adopt(snap);
  const uint32_t now = 1'000'000;
  for (const Service& svc : snap.services) {
    const ServiceSpec& sp = svc.spec;
    const uint32_t client = ip4(192, 0, 2, in.u8());
    const uint16_t sport = in.u16(), dport = sp.port ? sp.port : in.u16();
    const bool tagged = in.u8() & 1;
    FrameBuilder f(tagged), e(tagged), g(tagged);
    check_frame(f.b, f.flow(client, sp.vip, sp.proto, sport, dport), snap, prog, w, now);
    check_frame(e.b, e.icmp_error(client, sp.vip, sp.proto, dport, sport), snap, prog, w, now);
    check_frame(g.b, g.later_fragment(client, sp.vip, sp.proto), snap, prog, w, now);
  }
  std::vector<uint32_t> addresses{kUnknownServer};
  for (const Service& svc : snap.services)
    for (const ServerSpec& r : svc.spec.servers) addresses.push_back(r.addr);
  empty_flows_and_check_load(w, now, addresses);

  // The server set changes: each server is kept, dropped, taken down or reweighted by one byte.
  std::vector<ServiceSpec> changed = specs;
  for (ServiceSpec& sp : changed) {
    std::vector<ServerSpec> kept;
    for (ServerSpec r : sp.servers) {
      const uint8_t how = in.u8();
      if (how % 4 == 1) continue;
      if (how % 4 == 2) r.up = !r.up;
      if (how % 4 == 3) r.weight = how >> 2;
      kept.push_back(r);
    }
    if (!kept.empty()) sp.servers = kept;
  }
  Snapshot next(changed, workers, 2);
  const uint32_t window = 1 + in.u16();
  next.keep_previous(snap, now, window);
  for (size_t i = 0; i < next.services.size(); ++i) {
    const Service& svc = next.services[i];
    if (svc.previous.empty()) continue;
    LAS_FUZZ_CHECK(scheduler_of(svc.spec.scheduler).stateless, "service %zu: a previous table for a stateful scheduler", i);
    LAS_FUZZ_CHECK(svc.previous.size() == svc.table.size(), "service %zu: previous table of %zu slots, table %zu", i,
                   svc.previous.size(), svc.table.size());
    for (uint16_t s : svc.previous)
      LAS_FUZZ_CHECK(s == kNoServer || s < svc.spec.servers.size(), "service %zu: previous slot names server %u of %zu", i, s,
                     svc.spec.servers.size());
    LAS_FUZZ_CHECK(svc.previous_active(now) && !svc.previous_active(now + window), "service %zu: window", i);
  }
  std::vector<sock_filter> next_prog;
  try {
    next_prog = fanout_program(next);
  } catch (const std::runtime_error&) {
    return 0;
  }
  w.adopt(next);
  for (const Service& svc : next.services) {
    const ServiceSpec& sp = svc.spec;
    if (sp.proto != kProtoTcp) continue;
    FrameBuilder f(false);
    check_frame(f.b, f.flow(ip4(192, 0, 2, in.u8()), sp.vip, sp.proto, in.u16(), sp.port ? sp.port : in.u16(), kTcpAck), next, next_prog, w, now);
  }
  addresses.assign(1, kUnknownServer);
  for (const Service& svc : next.services)
    for (const ServerSpec& r : svc.spec.servers) addresses.push_back(r.addr);
  empty_flows_and_check_load(w, now, addresses);
  return 0;
}
