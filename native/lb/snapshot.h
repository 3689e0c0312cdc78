// The service table the fast path decides with: immutable once published, replaced as a whole by
// swapping one pointer. Counters for its services and servers live beside it, one block per worker.
#pragma once
#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "../packet/bytes.h"
#include "maglev.h"
#include "scheduler.h"

namespace las {

// What keys a flow (the config's "flowKey"); exported as FLOW_KEYS, checked by src/native/contract.ts.
#define LAS_FLOW_KEYS(X) X(Addresses, "addresses") X(FiveTuple, "5tuple")
enum class FlowKeyMode : uint8_t {
#define LAS_ENUM(kind, name) kind,
  LAS_FLOW_KEYS(LAS_ENUM)
#undef LAS_ENUM
};
constexpr const char* kFlowKeyNames[] = {
#define LAS_NAME(kind, name) name,
    LAS_FLOW_KEYS(LAS_NAME)
#undef LAS_NAME
};
constexpr int kFlowKeyCount = sizeof kFlowKeyNames / sizeof kFlowKeyNames[0];

struct ServerSpec {
  uint32_t addr;  // host order; for a v6 server its identity, server_identity6(addr6) (set by convert)
  uint8_t addr6[16]{};  // a v6 server's address as on the wire (its service's family is 6)
  Mac mac;
  uint32_t weight;
  bool up = true;  // health: a down server gets no new flows
};

// One family per service: a v4 service's servers are v4, a v6 service's servers v6.
struct ServiceSpec {
  uint32_t vip;         // host order; for family 6 fold_ipv6(vip6), set by the Snapshot
  uint8_t family = 4;   // 4 or 6
  uint8_t vip6[16]{};   // family 6: the VIP as on the wire
  uint16_t port;  // 0 = all ports
  uint8_t proto;
  FlowKeyMode flow_key;
  SchedulerKind scheduler;
  uint32_t maglev_size;
  std::vector<ServerSpec> servers;
  bool reschedule_when_down = true;  // existing flows of a dead server move ("reschedule") or stay ("keep")
  bool has_sorry = false;            // where new flows go when no server can take them
  ServerSpec sorry{};
};

// Relaxed atomics: one writer (the worker), readers that tolerate a slightly old value.
struct Counter {
  std::atomic<uint64_t> v{0};
  void add(uint64_t n) { v.store(v.load(std::memory_order_relaxed) + n, std::memory_order_relaxed); }
  void set(uint64_t n) { v.store(n, std::memory_order_relaxed); }
  uint64_t get() const { return v.load(std::memory_order_relaxed); }
};

struct ServiceCounters {
  Counter packets, bytes, new_flows, no_server;
};
struct ServerCounters {
  Counter packets, bytes, new_flows;
};

struct alignas(64) WorkerServiceBlock {
  std::unique_ptr<ServiceCounters[]> services;
  std::unique_ptr<ServerCounters[]> servers;  // indexed by Service::first_server + index
};

struct Service {
  ServiceSpec spec;               // with the sorry server, if any, appended last
  int sorry_index = -1;
  std::vector<uint16_t> table;    // the scheduler's: Maglev slots (maglev, sh) or a weighted sequence (scheduler.cc)
  uint32_t first_server;          // offset of this service's servers in the counter arrays
  // Server lookup by address for flows that outlive a snapshot: small open-addressed table.
  std::vector<uint32_t> addr_keys;
  std::vector<uint16_t> addr_index;
  uint32_t addr_mask = 0;

  // Second chance (ha.secondChance, stateless schedulers only): the table as it was before the
  // last change of this service's placement, its slots translated to this snapshot's server
  // indexes (kNoServer: that server left). Kept for previous_window_ms from previous_from_ms (the
  // flow clock); empty when off or unchanged. Built off the fast path, read-only after.
  std::vector<uint16_t> previous;
  uint32_t previous_from_ms = 0;
  uint32_t previous_window_ms = 0;

  int server_index(uint32_t addr) const;
  bool previous_active(uint32_t now_ms) const {
    // Signed difference: the flow clock wraps; a worker whose clock was read just before the
    // snapshot was made is inside the window too.
    return !previous.empty() && static_cast<int32_t>(now_ms - previous_from_ms) < static_cast<int32_t>(previous_window_ms);
  }
  // The server the previous table gives this flow, if it may still take the flow's packets (up, or
  // down under the "keep" policy; a drained server keeps its connections); -1 otherwise.
  int previous_choice(const FlowKeyFields& key, uint32_t now_ms) const;
  // A server that may take new flows: up and weighted, and not the sorry server.
  bool eligible(int i) const { return i != sorry_index && spec.servers[i].up && spec.servers[i].weight > 0; }
};

class Snapshot {
 public:
  Snapshot(std::vector<ServiceSpec> specs, uint32_t workers, uint64_t generation);

  // Service for (vip, port, proto): an exact port first, then a port-0 (all ports) service. -1: none.
  int find_service(uint32_t vip, uint16_t port, uint8_t proto) const;
  bool is_vip(uint32_t vip) const;
  // Second chance: for each service whose placement differs from `before`'s, keep `before`'s table
  // for window_ms from now_ms; a service whose placement did not change keeps a window still
  // running in `before`. Called by whoever publishes, before the swap. window_ms 0: off.
  void keep_previous(const Snapshot& before, uint32_t now_ms, uint32_t window_ms);
  // For a fragment that carries no ports: the VIP's all-ports service, else its only `addresses`
  // service for the protocol (whose flow key needs no ports). -1 when neither exists.
  int find_fragment_service(uint32_t vip, uint8_t proto) const;
  // The service with exactly this spec's family, VIP, port and protocol (no port-0 fallback). -1: none.
  int find_exact(const ServiceSpec& sp) const;
  // The same three for a v6 VIP (16 bytes as on the wire).
  int find_service6(const uint8_t* vip6, uint16_t port, uint8_t proto) const;
  bool is_vip6(const uint8_t* vip6) const;
  int find_fragment_service6(const uint8_t* vip6, uint8_t proto) const;

  std::vector<Service> services;
  std::vector<uint32_t> vips;       // distinct, sorted: the v4 VIPs only
  std::vector<std::array<uint8_t, 16>> vips6;  // distinct, sorted: the v6 VIPs
  uint64_t generation;
  uint32_t total_servers = 0;
  std::vector<WorkerServiceBlock> counters;  // one per worker

 private:
  struct Slot {
    uint32_t vip;     // v6: the fold; the whole VIP is compared in the service's spec
    uint16_t port;
    uint8_t proto;
    uint8_t used;
    uint16_t service;
    uint8_t family;
  };
  // vips6 as two native-order words each, sorted: is_vip6 compares 2 words, not 16 bytes.
  struct V6Words {
    uint64_t a, b;
    bool operator<(const V6Words& o) const { return a < o.a || (a == o.a && b < o.b); }
  };
  std::vector<V6Words> vip6_words_;
  int lookup(uint32_t vip, uint16_t port, uint8_t proto) const;
  int lookup6(const uint8_t* vip6, uint16_t port, uint8_t proto) const;
  int fragment_service(uint8_t family, uint32_t vip, const uint8_t* vip6, uint8_t proto) const;
  std::vector<Slot> index_;
  uint32_t index_mask_ = 0;
};

}  // namespace las
