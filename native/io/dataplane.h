// The running fast path: one I/O thread per worker, each with its own RX ring, TX path and flow-table
// shard. The control plane (the N-API thread) only publishes snapshots and reads counters.
#pragma once
#include <linux/filter.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "../dataplane/classify.h"
#include "../lb/snapshot.h"
#include "expire_queue.h"
#include "../dataplane/explain.h"
#include "packet_socket.h"
#include "trace.h"

namespace las {

// How a worker transmits (the config's "txMode" once "auto" is resolved); exported as TX_MODES.
#define LAS_TX_MODES(X) X(Ring, "ring") X(Send, "send") X(Sendmmsg, "sendmmsg")
enum class TxMode : uint8_t {
#define LAS_ENUM(kind, name) kind,
  LAS_TX_MODES(LAS_ENUM)
#undef LAS_ENUM
};
constexpr const char* kTxModeNames[] = {
#define LAS_NAME(kind, name) name,
    LAS_TX_MODES(LAS_NAME)
#undef LAS_NAME
};
constexpr int kTxModeCount = sizeof kTxModeNames / sizeof kTxModeNames[0];

struct DataplaneConfig {
  std::string ingress_if;
  std::string egress_if;
  uint32_t workers = 1;
  std::vector<int> cpus;
  TxMode tx_mode = TxMode::Ring;
  uint32_t flow_capacity = 1u << 20;
  uint32_t flow6_capacity = 0;  // 0: WorkerState::default_flow6_capacity(flow_capacity)
  uint32_t idle_ms = 300000;
  RingConfig ring{1u << 20, 32, 2048, 10};
  int fanout_id = 0;
  std::vector<sock_filter> filter;
  bool gratuitous_arp = true;
  // false: start as a standby (ha.mode "vrrp"): forward nothing, answer no ARP, announce nothing.
  bool start_active = true;
  // "" keeps the flow tables in process memory; otherwise worker i's table lives in the file
  // flow_file_prefix + "." + i and its v6 table in flow_file_prefix + ".v6." + i (flow_file.h),
  // picked up by the next start.
  std::string flow_file_prefix;
};

// What start() did with a worker's flow file: picked up its table, or started empty and why.
struct FlowFileReport {
  std::string path;
  uint32_t worker = 0;
  uint8_t family = 4;         // which of the worker's tables: 4 or 6
  std::string empty_because;  // "" when the table was picked up
  FlowRestored restored;
};

struct CounterTotals {
  uint64_t packets = 0, bytes = 0, new_flows = 0, no_server = 0;
};

struct ServerTotals : CounterTotals {
  uint64_t active_flows = 0;
};

struct ServiceStats {
  uint32_t vip;
  uint16_t port;
  uint8_t proto;
  CounterTotals totals;
  std::vector<std::pair<uint32_t, ServerTotals>> servers;  // by address (a v6 server: its identity)
  uint8_t family = 4;
  std::array<uint8_t, 16> vip6{};                          // family 6: the VIP and, by index, the servers
  std::vector<std::array<uint8_t, 16>> servers6;
};


struct DataplaneStats {
  std::vector<WorkerStats> workers;
  std::vector<ServiceStats> services;
};

class Worker;
class Dataplane;
class FlowFile;

// Makes the I/O workers: the product's (make_worker) or the benchmark's pass-through (native/bench/).
using WorkerFactory = std::unique_ptr<Worker> (*)(Dataplane& dp, uint32_t index);
std::unique_ptr<Worker> make_worker(Dataplane& dp, uint32_t index);

class Dataplane {
 public:
  Dataplane(DataplaneConfig cfg, std::vector<ServiceSpec> services, WorkerFactory make = make_worker);
  ~Dataplane();

  void start();  // opens every socket first, so a bad interface or missing privilege throws here
  void stop();
  // second_chance_ms: how long each service whose placement changes keeps its previous table
  // (Snapshot::keep_previous); 0 = off.
  void publish(std::vector<ServiceSpec> services, uint32_t second_chance_ms = 0);
  void set_filter(std::vector<sock_filter> filter);
  // The HA role: a standby keeps sockets, filter, tables and workers but forwards nothing and answers
  // no ARP. The I/O threads read it once per block (relaxed), so a change takes effect between blocks.
  void set_active(bool active) { active_.store(active, std::memory_order_relaxed); }
  bool active() const { return active_.load(std::memory_order_relaxed); }
  // One gratuitous ARP for every VIP of the current snapshot (a new active repeats it from JavaScript).
  void announce_all();
  DataplaneStats stats();

  // For the control plane's other threads (aging worker, `las flows`): found by id, from any
  // JavaScript context, for as long as this object lives.
  uint32_t id() const { return id_; }
  static Dataplane* find(uint32_t id);
  uint32_t worker_count() const { return static_cast<uint32_t>(workers_.size()); }
  const FlowTable* flow_table(uint32_t worker);
  const FlowTable6* flow_table6(uint32_t worker);
  // Queues expiry commands for a worker; returns how many were accepted.
  uint32_t expire(uint32_t worker, const ExpireCommand* cmds, uint32_t n);
  uint32_t expire6(uint32_t worker, const ExpireCommand6* cmds, uint32_t n);
  // `las explain`: every running I/O thread answers for its own shard between batches; each tuple's
  // answer is its owner's (the worker the fanout hash names). Blocks the caller up to timeout_ms;
  // throws when the fast path is not running or a thread did not answer in time.
  std::vector<Explanation> explain(const std::vector<ExplainTuple>& tuples, uint32_t timeout_ms);
  // One per worker after start(), empty when the tables are not kept in files.
  const std::vector<FlowFileReport>& flow_files() const { return flow_reports_; }

  // `las trace`: replaces the running filters (empty: tracing off); workers take them between blocks.
  void set_trace(const std::vector<TraceFilter>& filters);
  // What the workers' trace rings hold (up to max_per_worker each, TraceRecord::worker set); lost:
  // per worker, records dropped because its ring was full.
  struct TraceDrain {
    std::vector<TraceRecord> records;
    std::vector<uint64_t> lost;
  };
  TraceDrain drain_trace(uint32_t max_per_worker);

  // For the workers.
  const DataplaneConfig& config() const { return cfg_; }
  std::atomic<const TraceSet*>& trace() { return trace_; }
  std::atomic<Snapshot*>& current() { return current_; }
  bool running() const { return running_.load(std::memory_order_relaxed); }

 private:
  template <typename Command, typename Queue>
  uint32_t enqueue_expiries(uint32_t worker, const Command* cmds, uint32_t n, Queue& (Worker::*queue)());
  void reclaim();  // frees retired snapshots that no worker uses any more
  void announce(const std::vector<uint32_t>& vips);
  // Unsolicited Neighbor Advertisements for v6 VIPs, and the ingress interface's membership of their
  // solicited-node groups (a NIC filters multicast it has not joined; the kernel joins only its own).
  void announce6(const std::vector<std::array<uint8_t, 16>>& vips6);
  void solicited_groups(const std::vector<std::array<uint8_t, 16>>& vips6, bool join);
  void halt();     // stops and joins the threads, closes every socket; counters and flow tables stay
  void attach_flow_files();  // before the threads run: each worker's table moves into its file

  DataplaneConfig cfg_;
  WorkerFactory make_worker_;
  uint32_t id_;
  bool started_once_ = false;
  std::mutex expire_mutex_;  // serialises producers of the expiry queues
  std::mutex explain_mutex_; // one explain request at a time
  std::mutex control_;  // serialises control calls; never taken by a worker
  std::atomic<Snapshot*> current_{nullptr};
  std::unique_ptr<Snapshot> owned_current_;
  std::vector<std::unique_ptr<Snapshot>> retired_;
  uint64_t next_generation_ = 1;
  std::vector<std::unique_ptr<FlowFile>> flow_files_;  // opened and locked by the constructor, held while this object lives
  std::vector<std::unique_ptr<FlowFile>> flow_files6_;  // the v6 tables' files, likewise
  std::vector<FlowFileReport> flow_reports_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::vector<std::thread> threads_;
  std::atomic<bool> running_{false};
  std::atomic<bool> active_{true};
  std::atomic<const TraceSet*> trace_{nullptr};
  std::unique_ptr<TraceSet> owned_trace_;
  std::vector<std::unique_ptr<TraceSet>> retired_traces_;
  uint64_t next_trace_generation_ = 1;
  Mac ingress_mac_{};
  int announce_fd_ = -1;
  // Totals of snapshots already freed, so counters survive reloads.
  // (VIP, port, protocol, family); a v6 VIP by its hash, since folds of two VIPs can be equal.
  using ServiceKey = std::tuple<uint32_t, uint16_t, uint8_t, uint8_t>;
  static ServiceKey key_of(const ServiceSpec& sp) {
    return {sp.family == 6 ? server_identity6(sp.vip6) : sp.vip, sp.port, sp.proto, sp.family};
  }
  std::map<ServiceKey, CounterTotals> retired_services_;
  std::map<std::pair<ServiceKey, uint32_t>, CounterTotals> retired_servers_;
};

}  // namespace las
