#include "frame_world.h"

#include <algorithm>
#include <cstring>

#include "../lb/hash.h"
#include "check.h"

namespace las::fuzz {

namespace {

ServerSpec server(uint32_t addr, uint32_t weight, bool up = true) {
  ServerSpec s{};
  s.addr = addr;
  s.mac = Mac{{0x02, 0x00, 0x00, 0x00, static_cast<uint8_t>(addr >> 8), static_cast<uint8_t>(addr)}};
  s.weight = weight;
  s.up = up;
  return s;
}

// A v6 server 2001:db8:1::n, named by its identity as convert.cc names it.
ServerSpec server6(uint8_t n, uint32_t weight) {
  ServerSpec s = server(0, weight);
  const uint8_t addr[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, n};
  std::memcpy(s.addr6, addr, 16);
  s.addr = server_identity6(addr);
  s.mac = Mac{{0x02, 0x00, 0x00, 0x00, 0x06, n}};
  return s;
}

ServiceSpec service(uint32_t vip, uint16_t port, uint8_t proto, FlowKeyMode key, SchedulerKind sched,
                    std::vector<ServerSpec> servers, uint32_t maglev_size = 251) {
  ServiceSpec s{};
  s.vip = vip;
  s.port = port;
  s.proto = proto;
  s.flow_key = key;
  s.scheduler = sched;
  s.maglev_size = maglev_size;
  s.servers = std::move(servers);
  return s;
}

// A service of the v6 golden frames' VIPs, 2001:db8:100::n (test/fixtures/golden-frames-v6.ts).
ServiceSpec service6(uint8_t n, uint16_t port, uint8_t proto, FlowKeyMode key, SchedulerKind sched, std::vector<ServerSpec> servers) {
  ServiceSpec s = service(0, port, proto, key, sched, std::move(servers));
  const uint8_t vip[16] = {0x20, 0x01, 0x0d, 0xb8, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, n};
  s.family = 6;
  std::memcpy(s.vip6, vip, 16);
  return s;
}

std::vector<ServiceSpec> main_specs() {
  using K = FlowKeyMode;
  using S = SchedulerKind;
  const uint32_t a = ip4(10, 0, 0, 10), b = ip4(10, 0, 0, 20), c = ip4(10, 0, 0, 30), d = ip4(10, 0, 0, 40);
  const uint32_t e = ip4(10, 0, 0, 50), f = ip4(10, 0, 0, 60);
  auto golden = [](uint32_t n, uint32_t weight) { return server(ip4(10, 0, 1, n), weight); };
  std::vector<ServiceSpec> v = {
      // The golden frames' snapshot (test/fixtures/golden-frames.ts), service for service.
      service(a, 80, kProtoTcp, K::FiveTuple, S::Maglev, {golden(1, 1)}),
      service(a, 53, kProtoUdp, K::FiveTuple, S::Maglev, {golden(2, 1)}),
      service(a, 443, kProtoTcp, K::Addresses, S::Maglev, {golden(3, 1)}),
      service(a, 4789, kProtoUdp, K::Addresses, S::Wrr, {golden(4, 1)}),
      service(b, 0, kProtoTcp, K::FiveTuple, S::Maglev, {golden(5, 1)}),
      service(c, 8080, kProtoTcp, K::FiveTuple, S::Maglev, {golden(6, 0), golden(7, 0)}),
      service(c, 8081, kProtoTcp, K::FiveTuple, S::Wrr, {golden(6, 0), golden(7, 1)}),
      service(d, 0, kProtoUdp, K::Addresses, S::Maglev, {golden(8, 1)}),
      // The other schedulers, down servers, sorry servers and the "keep" policy.
      service(e, 80, kProtoTcp, K::FiveTuple, S::Sh, {server(ip4(10, 0, 2, 1), 1), server(ip4(10, 0, 2, 2), 2, false),
                                                      server(ip4(10, 0, 2, 3), 3)}, 1031),
      service(e, 0, kProtoUdp, K::Addresses, S::Wlc, {server(ip4(10, 0, 2, 4), 1), server(ip4(10, 0, 2, 5), 5)}),
      service(e, 22, kProtoTcp, K::Addresses, S::Rr, {server(ip4(10, 0, 2, 6), 1, false), server(ip4(10, 0, 2, 7), 1)}),
      service(e, 8443, kProtoTcp, K::FiveTuple, S::Maglev, {server(ip4(10, 0, 2, 1), 1), server(ip4(10, 0, 2, 8), 0),
                                                            server(ip4(10, 0, 2, 3), 2)}, 1031),
      // A VIP whose all-ports service and port services use different flow keys.
      service(f, 0, kProtoTcp, K::Addresses, S::Wlc, {server(ip4(10, 0, 3, 1), 1), server(ip4(10, 0, 3, 2), 1)}),
      service(f, 443, kProtoTcp, K::FiveTuple, S::Wrr, {server(ip4(10, 0, 3, 1), 3), server(ip4(10, 0, 3, 2), 1)}),
      service(f, 4789, kProtoUdp, K::FiveTuple, S::Rr, {server(ip4(10, 0, 3, 3), 1), server(ip4(10, 0, 3, 4), 1)}),
  };
  // The v6 golden frames' snapshot, after the v4 services (whose indexes the lines below use).
  v.push_back(service6(0x10, 80, kProtoTcp, K::FiveTuple, S::Maglev, {server6(1, 1)}));
  v.push_back(service6(0x10, 53, kProtoUdp, K::FiveTuple, S::Maglev, {server6(2, 1)}));
  v.push_back(service6(0x20, 443, kProtoTcp, K::FiveTuple, S::Rr, {server6(0xb1, 1), server6(0xb2, 1), server6(0xb3, 1)}));
  v.push_back(service6(0x30, 0, kProtoUdp, K::Addresses, S::Rr, {server6(0xc1, 1), server6(0xc2, 1), server6(0xc3, 1)}));
  v[9].has_sorry = v[11].has_sorry = true;
  v[9].sorry = v[11].sorry = server(ip4(10, 0, 2, 9), 1);
  v[10].reschedule_when_down = false;
  return v;
}

uint64_t next(uint64_t& state) { return mix64(state += 0x9e3779b97f4a7c15ULL); }

}  // namespace

const Snapshot& world_snapshot(SnapshotKind kind) {
  static const Snapshot main(main_specs(), kWorkers, 1);
  static const Snapshot all_down = [] {
    std::vector<ServiceSpec> specs = main_specs();
    for (ServiceSpec& s : specs)
      for (ServerSpec& r : s.servers) r.up = false;
    return Snapshot(std::move(specs), kWorkers, 2);
  }();
  static const Snapshot empty({}, kWorkers, 3);
  return kind == SnapshotKind::Main ? main : kind == SnapshotKind::AllDown ? all_down : empty;
}

const std::vector<uint32_t>& world_server_addresses() {
  static const std::vector<uint32_t> all = [] {
    std::vector<uint32_t> v{kUnknownServer};
    for (const Service& s : world_snapshot(SnapshotKind::Main).services)
      for (const ServerSpec& r : s.spec.servers) v.push_back(r.addr);
    std::sort(v.begin(), v.end());
    v.erase(std::unique(v.begin(), v.end()), v.end());
    return v;
  }();
  return all;
}

void fill_flows(WorkerState& w, const Snapshot& snap, TableFill fill, uint32_t now_ms) {
  const uint32_t target = fill == TableFill::Empty ? 0 : fill == TableFill::Half ? kFlowCapacity / 2 : kFlowCapacity;
  if (snap.services.empty()) return;
  uint64_t rng = 0x5eed;
  for (uint32_t attempts = 0; w.flows.size() < target && attempts < 8 * kFlowCapacity; ++attempts) {
    const uint64_t r = next(rng);
    const Service& svc = snap.services[r % snap.services.size()];
    if (svc.spec.family == 6) continue;  // the v4 table only: v6 frames meet an empty v6 table
    // Clients near the golden frames' own (192.0.2.10, ports 40000.. and 50000..), so mutated seeds
    // meet existing flows.
    FlowKeyFields key{ip4(192, 0, 2, static_cast<uint32_t>(r >> 8) % 32), svc.spec.vip, 0, svc.spec.port, svc.spec.proto};
    if (svc.spec.flow_key == FlowKeyMode::FiveTuple) {
      key.sport = static_cast<uint16_t>((svc.spec.proto == kProtoTcp ? 40000 : 50000) + (r >> 16) % 64);
      key.dport = svc.spec.port ? svc.spec.port : static_cast<uint16_t>(1 + (r >> 24) % 1024);
    }
    const uint64_t h = hash_flow(key, kFlowTableSeed);
    if (w.flows.find(key, h)) continue;
    FlowEntry* e = w.flows.insert(key, h);
    LAS_FUZZ_CHECK(e != nullptr, "insert refused below capacity (%u of %u)", w.flows.size(), w.flows.capacity());
    // Mostly a server of the service; sometimes one that has left every snapshot.
    e->server_addr = (r >> 32) % 8 == 0 ? kUnknownServer : svc.spec.servers[(r >> 35) % svc.spec.servers.size()].addr;
    const bool idle = fill == TableFill::FullHalfIdle && (r >> 40) % 2 == 0;
    e->last_seen_ms = now_ms - (idle ? kIdleMs + 1 + static_cast<uint32_t>(r >> 41) % kIdleMs : static_cast<uint32_t>(r >> 41) % kIdleMs);
    e->created_ms = e->last_seen_ms;
    e->tcp_flags_seen = static_cast<uint8_t>((r >> 56) & (kTcpSyn | kTcpAck | kTcpFin | kTcpRst));
    w.load.add(e->server_addr, 1);
  }
}

void empty_flows_and_check_load(WorkerState& w, uint32_t now_ms, const std::vector<uint32_t>& addresses) {
  // Every entry was last seen at most a few idle timeouts before or after now_ms: 4 timeouts on
  // makes all of them idle. One full pass plus one examination per removal empties the table.
  w.flows.sweep(now_ms + 4 * kIdleMs, kIdleMs, 2 * w.flows.slots() + w.flows.size(), &WorkerState::on_erase, &w);
  LAS_FUZZ_CHECK(w.flows.size() == 0, "%u flows left after a full sweep", w.flows.size());
  w.flows6.sweep(now_ms + 4 * kIdleMs, kIdleMs, 2 * w.flows6.slots() + w.flows6.size(), &WorkerState::on_erase6, &w);
  LAS_FUZZ_CHECK(w.flows6.size() == 0, "%u v6 flows left after a full sweep", w.flows6.size());
  for (uint32_t addr : addresses)
    LAS_FUZZ_CHECK(w.load.get(addr) == 0, "server %08x still has load %lld with no flows", addr,
                   static_cast<long long>(w.load.get(addr)));
}

}  // namespace las::fuzz
