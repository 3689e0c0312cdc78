// Every scheduler in one place: how it builds its table from a snapshot's servers and how it picks
// the server of a new flow. The rest of the fast path asks scheduler_of(kind) and never switches on
// the kind. Adding a scheduler: its functions and its row in scheduler.cc, its name in
// LAS_SCHEDULERS, its tests (src/native/contract.ts lists the names the TypeScript side accepts).
#pragma once
#include <cstdint>
#include <vector>

#include "maglev.h"

namespace las {

// The order is the registration table's in scheduler.cc.
#define LAS_SCHEDULERS(X) X(Maglev) X(Wrr) X(Rr) X(Wlc) X(Sh)

enum class SchedulerKind : uint8_t {
#define LAS_ENUM(kind) kind,
  LAS_SCHEDULERS(LAS_ENUM)
#undef LAS_ENUM
  Count
};
constexpr int kSchedulerCount = static_cast<int>(SchedulerKind::Count);

struct Service;
struct FlowKeyFields;
class ServerLoad;

// What a choice may read besides the service: the choosing worker's own state.
struct ChooseContext {
  uint32_t& cursor;        // this worker's position in the service's table (rr, wrr)
  const ServerLoad& load;  // live flows per server address in this worker's shard (wlc)
};

struct Scheduler {
  SchedulerKind kind;
  const char* name;      // the config's "scheduler" value
  bool table_size;       // its table has maglevTableSize slots (which must be prime)
  // choose() is a pure function of the flow and the snapshot: any worker, or a restarted
  // dispatcher, picks the same server, so an ICMP error about a flow without an entry finds it.
  bool stateless;
  // Fills svc.table from the servers' effective weights (0 for a down server; the sorry server is
  // not among them).
  void (*build)(Service& svc, const std::vector<MaglevServer>& servers);
  // The server index for a new flow; -1 when no server can take it.
  int (*choose)(const Service& svc, const FlowKeyFields& key, ChooseContext& ctx);
  // For a flow forwarded without an entry (the shard is full) every packet must get the same answer:
  // a pure function of the flow and the snapshot; -1 keeps what choose() gave.
  int (*without_entry)(const Service& svc, const FlowKeyFields& key);
  // Which entry of svc.table choose() reads for this flow with this cursor (Maglev slot, sequence
  // position); -1 when the choice reads no table (wlc). For `las explain`, beside choose().
  int64_t (*position)(const Service& svc, const FlowKeyFields& key, uint32_t cursor);
};

const Scheduler& scheduler_of(SchedulerKind kind);
inline const char* scheduler_name(SchedulerKind kind) { return scheduler_of(kind).name; }

// The smooth weighted round-robin order (each server appears weight/gcd times, interleaved).
std::vector<uint16_t> build_wrr_sequence(const std::vector<uint32_t>& weights);

}  // namespace las
