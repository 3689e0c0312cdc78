#include "microbench.h"

#include <time.h>

#include <cstdint>
#include <cstring>
#include <numeric>
#include <stdexcept>

#include "../dataplane/classify.h"
#include "../lb/flow_table.h"
#include "../lb/hash.h"
#include "../lb/maglev.h"
#include "../packet/bytes.h"
#include "../packet/consts.h"
#include "rng.h"

namespace las::bench {

namespace {

uint64_t now_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000ull + static_cast<uint64_t>(ts.tv_nsec);
}

// Keeps a value alive (and memory written) without a volatile store in the loop.
template <typename T>
inline void keep(const T& v) {
  asm volatile("" : : "g"(v) : "memory");
}

// A bijection on 32 bits (lowbias32): distinct indexes give distinct, well-spread addresses.
inline uint32_t spread(uint32_t x) {
  x ^= x >> 16;
  x *= 0x7feb352dU;
  x ^= x >> 15;
  x *= 0x846ca68bU;
  x ^= x >> 16;
  return x;
}

inline FlowKeyFields table_key(uint32_t i) { return FlowKeyFields{spread(i), 0x0a000064, 0, 80, kProtoTcp}; }

// A stride coprime to n: (off + k * stride) mod n visits n distinct values.
uint64_t coprime_stride(uint64_t n, Rng& rng) {
  if (n <= 1) return 1;
  uint64_t s;
  do s = 1 + rng.next() % (n - 1);
  while (std::gcd(s, n) != 1);
  return s;
}

}  // namespace

ClassifyBenchResult bench_classify(const std::vector<std::vector<uint8_t>>& frames, std::vector<ServiceSpec> services,
                                   uint32_t iterations, uint32_t flow_capacity, uint32_t prefill) {
  if (frames.empty()) throw std::invalid_argument("frames must not be empty");
  if (iterations == 0) throw std::invalid_argument("iterations must be at least 1");
  if (flow_capacity == 0) throw std::invalid_argument("flowCapacity must be at least 1");
  if (prefill > flow_capacity) throw std::invalid_argument("prefillFlows must not exceed flowCapacity");

  constexpr uint32_t kNow = 1'000'000;        // the flow table only compares differences
  constexpr uint32_t kIdleMs = 3'600'000;     // nothing ages out during the run
  const bool v6 = !services.empty() && services[0].family == 6;
  Snapshot snap(std::move(services), 1, 1);
  // A v6 service's flows live in the v6 table: it gets the capacity the caller asked for.
  WorkerState w(flow_capacity, kIdleMs, 0, v6 ? flow_capacity : 0);
  w.ingress_mac = Mac{{0x02, 0, 0, 0, 0, 0x01}};
  w.egress_mac = Mac{{0x02, 0, 0, 0, 0, 0x02}};
  w.adopt(snap);

  // Live flows shaped like the first service's traffic, each from its own source address.
  FlowKeyFields shape{0, 0x0a000064, 0, 80, kProtoTcp};
  uint32_t server_addr = 0;
  if (!snap.services.empty()) {
    const ServiceSpec& s = snap.services[0].spec;
    shape = FlowKeyFields{0, s.vip, 0, s.port, s.proto};
    if (!s.servers.empty()) server_addr = s.servers[0].addr;
  }
  for (uint32_t i = 0; v6 && i < prefill; ++i) {
    // The same flows over IPv6: sources 2001:db8:ffff::/96 + spread(i), entries in flows6.
    const ServiceSpec& s = snap.services[0].spec;
    FlowKey6 k{};
    k.src[0] = 0x20, k.src[1] = 0x01, k.src[2] = 0x0d, k.src[3] = 0xb8, k.src[4] = 0xff, k.src[5] = 0xff;
    store_be32(k.src + 12, spread(i));
    std::memcpy(k.dst, s.vip6, 16);
    k.sport = static_cast<uint16_t>(1024 + i % 64000);
    k.dport = s.port;
    k.proto = s.proto;
    FlowEntry6* e = w.flows6.insert(k, hash_flow6(k, kFlowTableSeed));
    if (!e) break;
    e->server_addr = server_addr;
    e->created_ms = e->last_seen_ms = kNow;
    seal(*e);
  }
  for (uint32_t i = 0; !v6 && i < prefill; ++i) {
    FlowKeyFields k = shape;
    k.src = spread(i);
    k.sport = static_cast<uint16_t>(1024 + i % 64000);
    FlowEntry* e = w.flows.insert(k, hash_flow(k, kFlowTableSeed));
    if (!e) break;
    e->server_addr = server_addr;
    e->created_ms = e->last_seen_ms = kNow;
  }

  // classify() rewrites frames in place: each pass works on fresh copies of the pristine frames.
  std::vector<uint32_t> off(frames.size() + 1, 0);
  for (size_t i = 0; i < frames.size(); ++i) off[i + 1] = off[i] + static_cast<uint32_t>(frames[i].size());
  std::vector<uint8_t> pristine(off.back()), work(off.back());
  for (size_t i = 0; i < frames.size(); ++i) std::memcpy(pristine.data() + off[i], frames[i].data(), frames[i].size());
  const size_t n = frames.size();

  uint64_t acc = 0;
  // The same chunked two-pass loop as the I/O thread (worker.cc): prepare 16, then decide 16.
  constexpr size_t kChunk = 16;
  Prepared prepared[kChunk];
  auto pass = [&](bool decide_too) {
    for (size_t i = 0; i < n; i += kChunk) {
      const size_t m = n - i < kChunk ? n - i : kChunk;
      for (size_t k = 0; k < m; ++k) {
        uint32_t len = off[i + k + 1] - off[i + k];
        uint8_t* f = work.data() + off[i + k];
        std::memcpy(f, pristine.data() + off[i + k], len);
        keep(f);
        if (decide_too) prepare(f, len, snap, w, prepared[k]);
      }
      if (!decide_too) continue;
      for (size_t k = 0; k < m; ++k) {
        uint32_t len = off[i + k + 1] - off[i + k];
        Decision d = decide(work.data() + off[i + k], len, snap, w, kNow, prepared[k]);
        acc += static_cast<uint64_t>(d.action) + static_cast<uint64_t>(d.server);
      }
    }
  };
  pass(true);  // untimed: the frames' own flows are created here, the timed passes look them up

  // Timed in interleaved repetitions, keeping each kind's fastest: a preemption during one
  // copy-only pass would otherwise exceed the decide work it is subtracted from.
  uint32_t reps = iterations < 5 ? iterations : 5;
  uint32_t per_rep = iterations / reps;
  uint64_t best_with = UINT64_MAX, best_copy = UINT64_MAX;
  for (uint32_t r = 0; r < reps; ++r) {
    uint64_t t0 = now_ns();
    for (uint32_t it = 0; it < per_rep; ++it) pass(true);
    uint64_t t1 = now_ns();
    for (uint32_t it = 0; it < per_rep; ++it) pass(false);  // the copies alone, subtracted below
    uint64_t t2 = now_ns();
    if (t1 - t0 < best_with) best_with = t1 - t0;
    if (t2 - t1 < best_copy) best_copy = t2 - t1;
  }
  keep(acc);

  uint64_t total = static_cast<uint64_t>(per_rep) * n;
  double with_copy = static_cast<double>(best_with);
  double copy_only = static_cast<double>(best_copy);
  double ns = with_copy > copy_only ? (with_copy - copy_only) / static_cast<double>(total) : 0.0;
  return ClassifyBenchResult{ns, static_cast<uint64_t>(reps) * total};
}

FlowTableBenchResult bench_flow_table(uint32_t entries, uint32_t operations) {
  if (entries == 0 || entries > (1u << 30)) throw std::invalid_argument("entries must be from 1 to 1073741824");
  if (operations == 0) throw std::invalid_argument("operations must be at least 1");
  FlowTableBenchResult r{};
  FlowTable table(entries);
  Rng rng;
  uint64_t acc = 0;

  uint64_t t0 = now_ns();
  for (uint32_t i = 0; i < entries; ++i) {
    FlowKeyFields k = table_key(i);
    FlowEntry* e = table.insert(k, hash_flow(k, kFlowTableSeed));
    keep(e);
  }
  r.insert_ns = static_cast<double>(now_ns() - t0) / entries;

  // Keys prepared outside the timed loops, so those time hashing and probing only.
  std::vector<FlowKeyFields> keys(operations);
  for (auto& k : keys) k = table_key(rng.below(entries));
  t0 = now_ns();
  for (const auto& k : keys) acc += table.find(k, hash_flow(k, kFlowTableSeed)) != nullptr;
  r.lookup_hit_ns = static_cast<double>(now_ns() - t0) / operations;

  // Indexes >= entries map (bijectively) to keys that were never inserted.
  for (auto& k : keys) k = table_key(entries + rng.below((1ull << 32) - entries));
  t0 = now_ns();
  for (const auto& k : keys) acc += table.find(k, hash_flow(k, kFlowTableSeed)) != nullptr;
  r.lookup_miss_ns = static_cast<double>(now_ns() - t0) / operations;

  // Distinct random victims, then put them back so the sweep sees the full table.
  uint32_t erases = operations < entries ? operations : entries;
  uint64_t stride = coprime_stride(entries, rng), idx = rng.next() % entries;
  keys.resize(erases);
  for (auto& k : keys) {
    k = table_key(static_cast<uint32_t>(idx));
    idx = (idx + stride) % entries;
  }
  t0 = now_ns();
  for (const auto& k : keys) {
    FlowEntry* e = table.find(k, hash_flow(k, kFlowTableSeed));
    if (e) table.erase(e);
  }
  r.erase_ns = static_cast<double>(now_ns() - t0) / erases;
  for (const auto& k : keys) table.insert(k, hash_flow(k, kFlowTableSeed));

  // last_seen_ms is 0 everywhere and now is 0: every slot is examined, nothing is idle.
  t0 = now_ns();
  acc += table.sweep(0, 1000, table.slots(), nullptr, nullptr);
  r.sweep_ns_per_slot = static_cast<double>(now_ns() - t0) / table.slots();
  keep(acc);

  r.table_bytes = static_cast<uint64_t>(table.slots()) * sizeof(FlowEntry);
  r.bytes_per_entry = static_cast<double>(r.table_bytes) / entries;
  return r;
}

SecondChanceBenchResult bench_second_chance(uint32_t servers, uint32_t table_size, uint32_t flows, uint32_t rounds) {
  if (servers == 0 || servers + 1 >= kNoServer) throw std::invalid_argument("servers must be from 1 to 65533");
  if (!is_prime(table_size)) throw std::invalid_argument("tableSize must be prime");
  if (flows == 0 || rounds == 0) throw std::invalid_argument("flows and rounds must be at least 1");
  constexpr uint32_t kVip = 0x0a000064, kNow = 1'000'000, kIdleMs = 3'600'000;
  auto spec = [&](uint32_t n) {
    ServiceSpec s{};
    s.vip = kVip;
    s.port = 80;
    s.proto = kProtoTcp;
    s.flow_key = FlowKeyMode::FiveTuple;
    s.scheduler = SchedulerKind::Maglev;
    s.maglev_size = table_size;
    for (uint32_t i = 0; i < n; ++i) {
      ServerSpec r{};
      r.addr = 0x0a010001u + i;
      r.mac = Mac{{0x02, 0, 0, 0, 1, static_cast<uint8_t>(i)}};
      r.weight = 1;
      s.servers.push_back(r);
    }
    return std::vector<ServiceSpec>{s};
  };
  Snapshot before(spec(servers), 1, 1);
  Snapshot off(spec(servers + 1), 1, 2), on(spec(servers + 1), 1, 3);
  on.keep_previous(before, kNow, 60'000);

  // Ethernet + IPv4 + TCP ACK, one per flow, each from its own address and port.
  constexpr uint32_t kLen = kEthHeaderLen + kIpv4MinHeaderLen + kTcpMinHeaderLen;
  std::vector<uint8_t> pristine(static_cast<size_t>(flows) * kLen, 0), work(pristine.size());
  for (uint32_t i = 0; i < flows; ++i) {
    uint8_t* f = pristine.data() + static_cast<size_t>(i) * kLen;
    store_be16(f + 12, kEthIpv4);
    uint8_t* ip = f + kEthHeaderLen;
    ip[0] = 0x45;
    store_be16(ip + 2, kIpv4MinHeaderLen + kTcpMinHeaderLen);
    ip[8] = 64;
    ip[9] = kProtoTcp;
    store_be32(ip + 12, spread(i));
    store_be32(ip + 16, kVip);
    uint8_t* tcp = ip + kIpv4MinHeaderLen;
    store_be16(tcp, static_cast<uint16_t>(1024 + i % 60000));
    store_be16(tcp + 2, 80);
    tcp[12] = 5 << 4;
    tcp[13] = kTcpAck;
  }
  WorkerState w_off(flows, kIdleMs, 0), w_on(flows, kIdleMs, 0);
  w_off.adopt(off);
  w_on.adopt(on);

  uint64_t acc = 0, ns_off = 0, ns_on = 0;
  constexpr size_t kChunk = 16;
  Prepared prepared[kChunk];
  // One timed pass of the I/O thread's chunked loop over fresh copies, then (untimed) the entries it
  // made are removed so the next pass meets no entry again.
  auto pass = [&](const Snapshot& snap, WorkerState& w) {
    std::memcpy(work.data(), pristine.data(), work.size());
    uint64_t t0 = now_ns();
    for (size_t i = 0; i < flows; i += kChunk) {
      const size_t m = flows - i < kChunk ? flows - i : kChunk;
      for (size_t k = 0; k < m; ++k) prepare(work.data() + (i + k) * kLen, kLen, snap, w, prepared[k]);
      for (size_t k = 0; k < m; ++k) {
        Decision d = decide(work.data() + (i + k) * kLen, kLen, snap, w, kNow, prepared[k]);
        acc += static_cast<uint64_t>(d.server);
      }
    }
    uint64_t spent = now_ns() - t0;
    for (size_t i = 0; i < flows; ++i) {
      Prepared pr;
      prepare(pristine.data() + i * kLen, kLen, snap, w, pr);
      if (FlowEntry* e = w.flows.find(pr.key, pr.hash)) w.flows.erase(e);
    }
    return spent;
  };
  for (uint32_t r = 0; r < rounds; ++r) {
    ns_off += pass(off, w_off);
    ns_on += pass(on, w_on);
  }
  keep(acc);
  uint64_t frames = static_cast<uint64_t>(flows) * rounds;
  return SecondChanceBenchResult{static_cast<double>(ns_off) / frames, static_cast<double>(ns_on) / frames, frames,
                                 w_on.counters.second_chance.get(), on.services[0].previous.size() * sizeof(uint16_t)};
}

double bench_maglev(uint32_t servers, uint32_t size, uint32_t repetitions) {
  if (servers == 0 || servers >= kNoServer) throw std::invalid_argument("servers must be from 1 to 65534");
  if (!is_prime(size)) throw std::invalid_argument("size must be prime");
  if (repetitions == 0) throw std::invalid_argument("repetitions must be at least 1");
  std::vector<MaglevServer> list(servers);
  for (uint32_t i = 0; i < servers; ++i) list[i] = MaglevServer{0x0a000000u + i + 1, 1};
  uint64_t acc = 0;
  uint64_t t0 = now_ns();
  for (uint32_t r = 0; r < repetitions; ++r) {
    std::vector<uint16_t> table = build_maglev_table(list, size);
    acc += table[r % size];
  }
  uint64_t t1 = now_ns();
  keep(acc);
  return static_cast<double>(t1 - t0) / repetitions;
}

}  // namespace las::bench
