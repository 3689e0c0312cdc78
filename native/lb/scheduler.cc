#include "scheduler.h"

#include <algorithm>
#include <numeric>

#include "hash.h"
#include "server_load.h"
#include "snapshot.h"

namespace las {

std::vector<uint16_t> build_wrr_sequence(const std::vector<uint32_t>& weights) {
  uint32_t g = 0;
  for (uint32_t wt : weights) g = std::gcd(g, wt);
  std::vector<uint16_t> seq;
  if (g == 0) return seq;
  uint64_t total = 0;
  std::vector<int64_t> current(weights.size(), 0);
  for (uint32_t wt : weights) total += wt / g;
  // Bounded: a sequence longer than 64 Ki entries is scaled down (ratios kept approximately).
  double scale = total > 65536 ? 65536.0 / static_cast<double>(total) : 1.0;
  std::vector<int64_t> w(weights.size());
  int64_t sum = 0;
  for (size_t i = 0; i < weights.size(); ++i) {
    w[i] = weights[i] == 0 ? 0 : std::max<int64_t>(1, static_cast<int64_t>(weights[i] / g * scale));
    sum += w[i];
  }
  for (int64_t n = 0; n < sum; ++n) {
    size_t best = 0;
    for (size_t i = 0; i < weights.size(); ++i) {
      current[i] += w[i];
      if (current[i] > current[best]) best = i;
    }
    current[best] -= sum;
    seq.push_back(static_cast<uint16_t>(best));
  }
  return seq;
}

namespace {

// ---- table lookups shared by several schedulers

int64_t slot_index(const Service& svc, const FlowKeyFields& key) {
  return svc.table.empty() ? -1 : static_cast<int64_t>(hash_flow(key, kMaglevFlowSeed) % svc.table.size());
}

int slot_of(const Service& svc, const FlowKeyFields& key) {
  if (svc.table.empty()) return -1;
  uint16_t slot = svc.table[slot_index(svc, key)];
  return slot == kNoServer ? -1 : slot;
}

int64_t sequence_index(const Service& svc, uint32_t cursor) {
  return svc.table.empty() ? -1 : static_cast<int64_t>(cursor % svc.table.size());
}

int next_in_sequence(const Service& svc, ChooseContext& ctx) {
  return svc.table.empty() ? -1 : svc.table[sequence_index(svc, ctx.cursor++)];
}

std::vector<uint32_t> weights_of(const std::vector<MaglevServer>& servers) {
  std::vector<uint32_t> w;
  for (const auto& s : servers) w.push_back(s.weight);
  return w;
}

// ---- maglev: consistent hashing of the flow key

void maglev_build(Service& svc, const std::vector<MaglevServer>& servers) {
  // Down servers take part with weight 0: Maglev then moves only their share of the flows.
  svc.table = build_maglev_table(servers, svc.spec.maglev_size);
}
int maglev_choose(const Service& svc, const FlowKeyFields& key, ChooseContext&) { return slot_of(svc, key); }
int maglev_without_entry(const Service& svc, const FlowKeyFields& key) { return slot_of(svc, key); }
int64_t maglev_position(const Service& svc, const FlowKeyFields& key, uint32_t) { return slot_index(svc, key); }

// ---- sh: the Maglev table, keyed by the client's address alone, whatever its ports

FlowKeyFields source_only(const FlowKeyFields& key) { return FlowKeyFields{key.src, 0, 0, 0, 0}; }
int sh_choose(const Service& svc, const FlowKeyFields& key, ChooseContext&) { return slot_of(svc, source_only(key)); }
int sh_without_entry(const Service& svc, const FlowKeyFields& key) { return slot_of(svc, source_only(key)); }
int64_t sh_position(const Service& svc, const FlowKeyFields& key, uint32_t) { return slot_index(svc, source_only(key)); }

// ---- wrr and rr: a smooth weighted sequence each worker walks from its own cursor

void wrr_build(Service& svc, const std::vector<MaglevServer>& servers) { svc.table = build_wrr_sequence(weights_of(servers)); }
void rr_build(Service& svc, const std::vector<MaglevServer>& servers) {
  std::vector<uint32_t> w;
  for (const auto& s : servers) w.push_back(s.weight > 0 ? 1 : 0);
  svc.table = build_wrr_sequence(w);
}
int sequence_choose(const Service& svc, const FlowKeyFields&, ChooseContext& ctx) { return next_in_sequence(svc, ctx); }
int64_t sequence_position(const Service& svc, const FlowKeyFields&, uint32_t cursor) { return sequence_index(svc, cursor); }
// Without an entry the cursor cannot be replayed: the flow is hashed into the weighted sequence.
int sequence_without_entry(const Service& svc, const FlowKeyFields& key) {
  return svc.table.empty() ? -1 : svc.table[hash_flow(key, kMaglevFlowSeed) % svc.table.size()];
}

// ---- wlc: fewest live flows per weight in this worker's shard

int wlc_choose(const Service& svc, const FlowKeyFields&, ChooseContext& ctx) {
  int best = -1;
  uint64_t best_load = 0, best_weight = 1;
  for (int i = 0; i < static_cast<int>(svc.spec.servers.size()); ++i) {
    if (!svc.eligible(i)) continue;
    uint64_t load = ctx.load.get(svc.spec.servers[i].addr) + 1;
    uint64_t weight = svc.spec.servers[i].weight;
    // load/weight < best_load/best_weight, without division
    if (best < 0 || load * best_weight < best_load * weight) {
      best = i;
      best_load = load;
      best_weight = weight;
    }
  }
  return best;
}
int64_t no_position(const Service&, const FlowKeyFields&, uint32_t) { return -1; }

// ---- registration, in LAS_SCHEDULERS order
// wlc decides from live flow counts; its weighted sequence only places flows a full table cannot hold.
using K = SchedulerKind;
constexpr Scheduler kSchedulers[] = {
    {K::Maglev, "maglev", true, true, maglev_build, maglev_choose, maglev_without_entry, maglev_position},
    {K::Wrr, "wrr", false, false, wrr_build, sequence_choose, sequence_without_entry, sequence_position},
    {K::Rr, "rr", false, false, rr_build, sequence_choose, sequence_without_entry, sequence_position},
    {K::Wlc, "wlc", false, false, wrr_build, wlc_choose, sequence_without_entry, no_position},
    {K::Sh, "sh", true, true, maglev_build, sh_choose, sh_without_entry, sh_position},
};

constexpr bool rows_in_order() {
  for (int i = 0; i < kSchedulerCount; ++i)
    if (static_cast<int>(kSchedulers[i].kind) != i) return false;
  return sizeof kSchedulers / sizeof kSchedulers[0] == kSchedulerCount;
}
static_assert(rows_in_order(), "one row per LAS_SCHEDULERS entry, in its order");

}  // namespace

const Scheduler& scheduler_of(SchedulerKind kind) { return kSchedulers[static_cast<int>(kind)]; }

}  // namespace las
