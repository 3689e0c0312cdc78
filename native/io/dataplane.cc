#include "dataplane.h"

#include <linux/if_packet.h>
#include <pthread.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <iterator>
#include <cstring>
#include <limits>
#include <stdexcept>

#include "../dataplane/fanout.h"
#include "../packet/arp.h"
#include "../packet/ndp.h"
#include "flow_file.h"
#include "worker.h"

namespace las {

namespace {
std::mutex registry_mutex;
std::map<uint32_t, Dataplane*> registry;
uint32_t next_id = 1;

// Which entries of a picked-up table stay: those the new services would still look up, on this
// worker, for a server still configured (also drained or down: the snapshot decides, as for any flow).
struct KeepContext {
  const Snapshot* snap;
  uint32_t workers, worker;
};

bool keep_flow(void* ctx, const FlowEntry& e) {
  const KeepContext& c = *static_cast<const KeepContext*>(ctx);
  int si = c.snap->find_service(e.dst, e.dport, e.proto);
  if (si < 0) return false;
  const Service& svc = c.snap->services[si];
  bool by_addresses = svc.spec.flow_key == FlowKeyMode::Addresses;
  if (by_addresses && (e.sport != 0 || e.dport != svc.spec.port)) return false;  // keyed as another flow key keys it
  if (svc.server_index(e.server_addr) < 0) return false;
  uint32_t ports = by_addresses ? 0 : (static_cast<uint32_t>(e.sport) << 16) | e.dport;
  return c.workers <= 1 || fanout_mix(e.src, e.dst, ports) % c.workers == c.worker;
}

// The same for a v6 entry: the service by its full VIP, the fanout by the folded addresses.
bool keep_flow6(void* ctx, const FlowEntry6& e) {
  const KeepContext& c = *static_cast<const KeepContext*>(ctx);
  int si = c.snap->find_service6(e.dst, e.dport, e.proto);
  if (si < 0) return false;
  const Service& svc = c.snap->services[si];
  bool by_addresses = svc.spec.flow_key == FlowKeyMode::Addresses;
  if (by_addresses && (e.sport != 0 || e.dport != svc.spec.port)) return false;
  if (svc.server_index(e.server_addr) < 0) return false;
  uint32_t ports = by_addresses ? 0 : (static_cast<uint32_t>(e.sport) << 16) | e.dport;
  return c.workers <= 1 || fanout_mix(fold_ipv6(e.src), fold_ipv6(e.dst), ports) % c.workers == c.worker;
}

// Moves a worker's table into its file and picks up what the file holds.
template <typename Entry>
FlowFileReport attach_one(FlowFile& file, BasicFlowTable<Entry>& table, WorkerState& state, const KeepContext& ctx, uint8_t family,
                          bool (*keep)(void*, const Entry&)) {
  FlowFileReport report;
  report.path = file.path();
  report.worker = ctx.worker;
  report.family = family;
  report.empty_because = file.attach({table.slots(), table.capacity(), ctx.workers, ctx.worker}, table);
  if (report.empty_because.empty()) {
    KeepContext c = ctx;
    report.restored = table.restore(keep, &c);
    for (uint32_t s = 0; s < table.slots(); ++s)
      if (table.slot(s)->used) state.load.add(table.slot(s)->server_addr, 1);
  }
  return report;
}
}  // namespace

std::unique_ptr<Worker> make_worker(Dataplane& dp, uint32_t index) { return std::unique_ptr<Worker>(new Worker(dp, index)); }

Dataplane::Dataplane(DataplaneConfig cfg, std::vector<ServiceSpec> services, WorkerFactory make)
    : cfg_(std::move(cfg)), make_worker_(make) {
  active_.store(cfg_.start_active, std::memory_order_relaxed);
  owned_current_.reset(new Snapshot(std::move(services), cfg_.workers, next_generation_++));
  current_.store(owned_current_.get(), std::memory_order_release);
  // Locked now, before the daemon installs anything: a second daemon on the same files stops here.
  if (!cfg_.flow_file_prefix.empty())
    for (uint32_t i = 0; i < cfg_.workers; ++i) {
      flow_files_.emplace_back(new FlowFile(cfg_.flow_file_prefix + "." + std::to_string(i)));
      flow_files6_.emplace_back(new FlowFile(cfg_.flow_file_prefix + ".v6." + std::to_string(i)));
    }
  owned_trace_.reset(new TraceSet());
  owned_trace_->generation = next_trace_generation_++;
  trace_.store(owned_trace_.get(), std::memory_order_release);
  std::lock_guard<std::mutex> lock(registry_mutex);
  id_ = next_id++;
  registry[id_] = this;
}

Dataplane::~Dataplane() {
  {
    std::lock_guard<std::mutex> lock(registry_mutex);
    registry.erase(id_);
  }
  stop();
}

Dataplane* Dataplane::find(uint32_t id) {
  std::lock_guard<std::mutex> lock(registry_mutex);
  auto it = registry.find(id);
  return it == registry.end() ? nullptr : it->second;
}

const FlowTable* Dataplane::flow_table(uint32_t worker) {
  std::lock_guard<std::mutex> lock(control_);
  return worker < workers_.size() ? &workers_[worker]->state().flows : nullptr;
}

const FlowTable6* Dataplane::flow_table6(uint32_t worker) {
  std::lock_guard<std::mutex> lock(control_);
  return worker < workers_.size() ? &workers_[worker]->state().flows6 : nullptr;
}

template <typename Command, typename Queue>
uint32_t Dataplane::enqueue_expiries(uint32_t worker, const Command* cmds, uint32_t n, Queue& (Worker::*queue)()) {
  std::lock_guard<std::mutex> lock(expire_mutex_);
  Worker* w;
  {
    std::lock_guard<std::mutex> control(control_);
    if (worker >= workers_.size()) return 0;
    w = workers_[worker].get();
  }
  uint32_t accepted = 0;
  while (accepted < n && (w->*queue)().push(cmds[accepted])) ++accepted;
  return accepted;
}

uint32_t Dataplane::expire6(uint32_t worker, const ExpireCommand6* cmds, uint32_t n) {
  return enqueue_expiries(worker, cmds, n, &Worker::expiries6);
}

uint32_t Dataplane::expire(uint32_t worker, const ExpireCommand* cmds, uint32_t n) {
  return enqueue_expiries(worker, cmds, n, &Worker::expiries);
}

std::vector<Explanation> Dataplane::explain(const std::vector<ExplainTuple>& tuples, uint32_t timeout_ms) {
  std::lock_guard<std::mutex> lock(explain_mutex_);
  std::vector<Worker*> workers;
  {
    std::lock_guard<std::mutex> control(control_);
    if (!running_.load()) throw std::runtime_error("the fast path is not running");
    for (auto& w : workers_) workers.push_back(w.get());
  }
  // One request per thread, all posted before waiting on any; answers reserved here so the I/O
  // thread does not allocate.
  std::vector<ExplainRequest> requests(workers.size());
  for (size_t i = 0; i < workers.size(); ++i) {
    requests[i].tuples = &tuples;
    requests[i].answers.reserve(tuples.size());
    workers[i]->explains().post(&requests[i]);
  }
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  std::string late;
  for (size_t i = 0; i < workers.size(); ++i)
    if (!workers[i]->explains().wait(&requests[i], deadline)) late += (late.empty() ? "" : ", ") + std::to_string(i);
  if (!late.empty())
    throw std::runtime_error("I/O thread " + late + " did not answer within " + std::to_string(timeout_ms) + " ms");
  std::vector<Explanation> out;
  for (size_t t = 0; t < tuples.size(); ++t) {
    uint32_t owner = requests[0].answers[t].worker;  // every thread computes the same owner
    out.push_back(requests[owner < requests.size() ? owner : 0].answers[t]);
  }
  return out;
}

void Dataplane::start() {
  std::lock_guard<std::mutex> lock(control_);
  if (running_.load()) return;
  // Workers (and their flow tables) outlive stop() so views stay valid; a new start needs a new object.
  if (started_once_) throw std::runtime_error("a stopped dataplane cannot be started again");
  started_once_ = true;
  if (!cfg_.cpus.empty() && cfg_.cpus.size() != cfg_.workers)
    throw std::runtime_error("cpus must list one CPU per worker");
  // Every socket and ring exists before any thread runs: failures surface here, as exceptions.
  try {
    for (uint32_t i = 0; i < cfg_.workers; ++i) workers_.push_back(make_worker_(*this, i));
    attach_flow_files();
    if (cfg_.workers > 1) {
      workers_[0]->set_fanout_program(fanout_program(*owned_current_));
      // Only now may frames in: each one reaches the worker that owns its flow (see RxRing).
      for (auto& w : workers_) w->set_filter(cfg_.filter);
    }
    ingress_mac_ = interface_mac(cfg_.ingress_if);
    announce_fd_ = open_tx_socket(interface_index(cfg_.ingress_if), true);
  } catch (...) {
    workers_.clear();
    flow_reports_.clear();
    throw;
  }
  running_.store(true);
  for (uint32_t i = 0; i < cfg_.workers; ++i) {
    threads_.emplace_back([w = workers_[i].get()] { w->run(); });
    std::string name = "las-io-" + std::to_string(i);
    pthread_setname_np(threads_.back().native_handle(), name.c_str());
    if (!cfg_.cpus.empty()) {
      cpu_set_t set;
      CPU_ZERO(&set);
      CPU_SET(cfg_.cpus[i], &set);
      int rc = pthread_setaffinity_np(threads_.back().native_handle(), sizeof set, &set);
      if (rc != 0) {
        halt();
        workers_.clear();
        throw std::runtime_error("cpus[" + std::to_string(i) + "]: cannot pin worker " + std::to_string(i) + " to CPU " +
                                 std::to_string(cfg_.cpus[i]) + " (" + std::strerror(rc) +
                                 "): name a CPU this machine has online and lets the daemon use (see lscpu, taskset -p)");
      }
    }
  }
  solicited_groups(current_.load()->vips6, true);
  if (cfg_.gratuitous_arp && active()) {
    announce(current_.load()->vips);
    announce6(current_.load()->vips6);
  }
}

void Dataplane::attach_flow_files() {
  for (uint32_t i = 0; i < flow_files_.size() && i < workers_.size(); ++i) {
    WorkerState& state = workers_[i]->state();
    const KeepContext ctx{owned_current_.get(), cfg_.workers, i};
    flow_reports_.push_back(attach_one(*flow_files_[i], state.flows, state, ctx, 4, &keep_flow));
    flow_reports_.push_back(attach_one(*flow_files6_[i], state.flows6, state, ctx, 6, &keep_flow6));
  }
}

void Dataplane::stop() {
  std::lock_guard<std::mutex> lock(control_);
  if (running_.load()) halt();
}

void Dataplane::halt() {
  running_.store(false);
  for (auto& t : threads_) t.join();
  threads_.clear();
  // Counters and flow tables stay readable after stop; only the sockets go.
  for (auto& w : workers_) w->close_io();
  if (announce_fd_ >= 0) close(announce_fd_);
  announce_fd_ = -1;
}

void Dataplane::announce(const std::vector<uint32_t>& vips) {
  if (announce_fd_ < 0) return;
  uint8_t frame[kGratuitousArpLen];
  for (uint32_t vip : vips) {
    build_gratuitous_arp(frame, ingress_mac_, vip);
    (void)send(announce_fd_, frame, sizeof frame, MSG_DONTWAIT);
  }
}

void Dataplane::announce_all() {
  std::lock_guard<std::mutex> lock(control_);
  if (running_.load()) {
    announce(owned_current_->vips);
    announce6(owned_current_->vips6);
  }
}

void Dataplane::announce6(const std::vector<std::array<uint8_t, 16>>& vips6) {
  if (announce_fd_ < 0) return;
  uint8_t frame[ndp::kUnsolicitedAdvertLen];
  for (const auto& vip : vips6) {
    uint32_t len = ndp::build_unsolicited_advert(frame, ingress_mac_, vip.data());
    (void)send(announce_fd_, frame, len, MSG_DONTWAIT);
  }
}

void Dataplane::solicited_groups(const std::vector<std::array<uint8_t, 16>>& vips6, bool join) {
  if (announce_fd_ < 0) return;
  const int ifindex = interface_index(cfg_.ingress_if);
  for (const auto& vip : vips6) {
    uint8_t group[16];
    ndp::solicited_node_multicast(vip.data(), group);
    packet_mreq mr{};
    mr.mr_ifindex = ifindex;
    mr.mr_type = PACKET_MR_MULTICAST;
    mr.mr_alen = 6;
    std::memcpy(mr.mr_address, ndp::multicast_mac(group).bytes, 6);
    // Best effort: veth delivers every multicast frame anyway; a refusal leaves NS to ALLMULTI setups.
    (void)setsockopt(announce_fd_, SOL_PACKET, join ? PACKET_ADD_MEMBERSHIP : PACKET_DROP_MEMBERSHIP, &mr, sizeof mr);
  }
}

void Dataplane::publish(std::vector<ServiceSpec> services, uint32_t second_chance_ms) {
  std::lock_guard<std::mutex> lock(control_);
  // The expensive part (Maglev tables) is built here, off the fast path.
  std::unique_ptr<Snapshot> next(new Snapshot(std::move(services), cfg_.workers, next_generation_++));
  next->keep_previous(*owned_current_, monotonic_ms(), second_chance_ms);
  // The fanout follows the new services' flow keys from here on (a frame between the two swaps may
  // meet a worker that does not own it: counted as wrong_worker, forwarded all the same).
  if (running_.load() && cfg_.workers > 1) workers_[0]->set_fanout_program(fanout_program(*next));
  std::vector<uint32_t> fresh;
  const std::vector<uint32_t>& old_vips = owned_current_->vips;
  for (uint32_t v : next->vips)
    if (!std::binary_search(old_vips.begin(), old_vips.end(), v)) fresh.push_back(v);
  std::vector<std::array<uint8_t, 16>> fresh6, gone6;
  std::set_difference(next->vips6.begin(), next->vips6.end(), owned_current_->vips6.begin(), owned_current_->vips6.end(),
                      std::back_inserter(fresh6));
  std::set_difference(owned_current_->vips6.begin(), owned_current_->vips6.end(), next->vips6.begin(), next->vips6.end(),
                      std::back_inserter(gone6));
  current_.store(next.get(), std::memory_order_release);
  retired_.push_back(std::move(owned_current_));
  owned_current_ = std::move(next);
  if (running_.load()) {
    solicited_groups(fresh6, true);
    solicited_groups(gone6, false);
  }
  if (running_.load() && cfg_.gratuitous_arp && active()) {
    announce(fresh);
    announce6(fresh6);
  }
  reclaim();
}

void Dataplane::set_filter(std::vector<sock_filter> filter) {
  std::lock_guard<std::mutex> lock(control_);
  cfg_.filter = std::move(filter);
  for (auto& w : workers_) w->set_filter(cfg_.filter);
}

void Dataplane::set_trace(const std::vector<TraceFilter>& filters) {
  std::lock_guard<std::mutex> lock(control_);
  if (filters.size() > kMaxTraceFilters) throw std::runtime_error("at most " + std::to_string(kMaxTraceFilters) + " trace filters");
  // "No trace" is an empty set, never a null pointer, so every worker acknowledges a generation.
  std::unique_ptr<TraceSet> next(new TraceSet());
  next->count = static_cast<uint32_t>(filters.size());
  for (size_t i = 0; i < filters.size(); ++i) {
    next->filters[i] = filters[i];
    if (next->filters[i].sample == 0) next->filters[i].sample = 1;
  }
  next->generation = next_trace_generation_++;
  trace_.store(next.get(), std::memory_order_release);
  retired_traces_.push_back(std::move(owned_trace_));
  owned_trace_ = std::move(next);
  // A worker copies the set it loads and then acknowledges its generation; the pointer only moves
  // forward, so a retired set older than every acknowledgement is never read again.
  uint64_t oldest = std::numeric_limits<uint64_t>::max();
  if (running_.load()) {
    for (auto& w : workers_) oldest = std::min(oldest, w->seen_trace.load(std::memory_order_acquire));
  }
  auto it = retired_traces_.begin();
  while (it != retired_traces_.end()) {
    if ((*it)->generation < oldest) it = retired_traces_.erase(it);
    else ++it;
  }
}

Dataplane::TraceDrain Dataplane::drain_trace(uint32_t max_per_worker) {
  std::lock_guard<std::mutex> lock(control_);
  TraceDrain out;
  std::vector<TraceRecord> buf(max_per_worker);
  for (uint32_t w = 0; w < workers_.size(); ++w) {
    uint32_t n = workers_[w]->trace_ring().drain(buf.data(), max_per_worker);
    for (uint32_t i = 0; i < n; ++i) buf[i].worker = static_cast<uint8_t>(w);
    out.records.insert(out.records.end(), buf.begin(), buf.begin() + n);
    out.lost.push_back(workers_[w]->trace_ring().lost());
  }
  return out;
}

void Dataplane::reclaim() {
  uint64_t oldest_in_use = std::numeric_limits<uint64_t>::max();
  if (running_.load()) {
    for (auto& w : workers_) oldest_in_use = std::min(oldest_in_use, w->seen_generation.load(std::memory_order_acquire));
  }
  auto it = retired_.begin();
  while (it != retired_.end()) {
    Snapshot& s = **it;
    if (s.generation >= oldest_in_use) {
      ++it;
      continue;
    }
    for (size_t si = 0; si < s.services.size(); ++si) {
      const ServiceSpec& sp = s.services[si].spec;
      ServiceKey key = key_of(sp);
      CounterTotals& t = retired_services_[key];
      for (auto& block : s.counters) {
        t.packets += block.services[si].packets.get();
        t.bytes += block.services[si].bytes.get();
        t.new_flows += block.services[si].new_flows.get();
        t.no_server += block.services[si].no_server.get();
        for (size_t r = 0; r < sp.servers.size(); ++r) {
          CounterTotals& rt = retired_servers_[{key, sp.servers[r].addr}];
          const ServerCounters& rc = block.servers[s.services[si].first_server + r];
          rt.packets += rc.packets.get();
          rt.bytes += rc.bytes.get();
          rt.new_flows += rc.new_flows.get();
        }
      }
    }
    it = retired_.erase(it);
  }
}

DataplaneStats Dataplane::stats() {
  std::lock_guard<std::mutex> lock(control_);
  reclaim();
  DataplaneStats out;
  for (auto& w : workers_) {
    out.workers.push_back(w->state().counters.read());
  }
  // Live counters sit in the current snapshot and in retired ones not yet freed.
  std::vector<Snapshot*> live{owned_current_.get()};
  for (auto& r : retired_) live.push_back(r.get());
  const Snapshot& cur = *owned_current_;
  for (size_t si = 0; si < cur.services.size(); ++si) {
    const ServiceSpec& sp = cur.services[si].spec;
    ServiceKey key = key_of(sp);
    ServiceStats ss{sp.vip, sp.port, sp.proto, retired_services_[key], {}};
    ss.family = sp.family;
    std::memcpy(ss.vip6.data(), sp.vip6, 16);
    for (const auto& srv : sp.servers) {
      ServerTotals t;
      static_cast<CounterTotals&>(t) = retired_servers_[{key, srv.addr}];
      ss.servers.push_back({srv.addr, t});
      ss.servers6.emplace_back();
      std::memcpy(ss.servers6.back().data(), srv.addr6, 16);
    }
    for (Snapshot* snap : live) {
      int idx = snap->find_exact(sp);
      if (idx < 0) continue;
      const Service& svc = snap->services[idx];
      for (auto& block : snap->counters) {
        ss.totals.packets += block.services[idx].packets.get();
        ss.totals.bytes += block.services[idx].bytes.get();
        ss.totals.new_flows += block.services[idx].new_flows.get();
        ss.totals.no_server += block.services[idx].no_server.get();
        for (auto& [addr, totals] : ss.servers) {
          int r = svc.server_index(addr);
          if (r < 0) continue;
          const ServerCounters& rc = block.servers[svc.first_server + r];
          totals.packets += rc.packets.get();
          totals.bytes += rc.bytes.get();
          totals.new_flows += rc.new_flows.get();
        }
      }
    }
    for (auto& [addr, totals] : ss.servers)
      for (auto& w : workers_) totals.active_flows += w->state().load.get(addr);
    out.services.push_back(std::move(ss));
  }
  return out;
}

}  // namespace las
