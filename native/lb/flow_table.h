// One worker's flow-table shard: open addressing with linear probing and backward-shift deletion.
// Single writer (its I/O thread), fixed capacity chosen at start, no allocation after that.
#pragma once
#include <cstdint>
#include <cstddef>

#include "hash.h"

namespace las {

// 32 bytes: two entries per cache line.
struct FlowEntry {
  uint32_t src;
  uint32_t dst;
  uint16_t sport;
  uint16_t dport;
  uint8_t proto;
  uint8_t used;
  uint8_t tcp_flags_seen;  // SYN/FIN/RST seen, for aging policy
  uint8_t reserved;
  uint32_t server_addr;    // the server's identity survives snapshot swaps
  uint32_t last_seen_ms;   // wraps after 49 days; compared by difference
  uint32_t created_ms;
  uint32_t check;          // seal(): the key and server agree; a torn or half-written entry fails it
};
static_assert(sizeof(FlowEntry) == 32, "flow entry must stay 32 bytes");

// The fields the control plane reads from the views (aging, `las flows`), with their JavaScript
// names: exported with offsetof and sizeof as FLOW_ENTRY_FIELDS, checked by src/native/contract.ts.
#define LAS_FLOW_ENTRY_FIELDS(X)   \
  X(src, "src")                    \
  X(dst, "dst")                    \
  X(sport, "sport")                \
  X(dport, "dport")                \
  X(proto, "proto")                \
  X(used, "used")                  \
  X(tcp_flags_seen, "tcpFlagsSeen") \
  X(server_addr, "serverAddress")  \
  X(last_seen_ms, "lastSeenMs")    \
  X(created_ms, "createdMs")

// The check word over the fields fixed while an entry keeps its server (key and server address),
// never 0. Written once per placement, not per packet; a restart drops an entry that fails it
// (one the old process was killed in the middle of writing).
inline uint32_t entry_check(const FlowEntry& e) {
  FlowKeyFields k{e.src, e.dst, e.sport, e.dport, e.proto};
  return static_cast<uint32_t>(hash_flow(k, kFlowTableSeed ^ (uint64_t{e.server_addr} << 17))) | 1u;
}
inline void seal(FlowEntry& e) { e.check = entry_check(e); }

class FlowTable {
 public:
  // capacity: the most entries it will hold; slots are the next power of two >= capacity * 4/3.
  explicit FlowTable(uint32_t capacity);
  ~FlowTable();
  FlowTable(const FlowTable&) = delete;
  FlowTable& operator=(const FlowTable&) = delete;

  FlowEntry* find(const FlowKeyFields& key, uint64_t hash);
  void prefetch(uint64_t hash) const { __builtin_prefetch(&entries_[static_cast<uint32_t>(hash) & mask_], 1); }
  // Returns nullptr when the table already holds `capacity` entries (the caller forwards statelessly).
  FlowEntry* insert(const FlowKeyFields& key, uint64_t hash);
  void erase(FlowEntry* entry);
  // Examines up to `budget` slots from a rotating cursor and removes entries idle for longer than
  // idle_ms, calling on_erase(ctx, entry) first. Returns how many it removed.
  using EraseHook = void (*)(void* ctx, const FlowEntry& entry);
  uint32_t sweep(uint32_t now_ms, uint32_t idle_ms, uint32_t budget, EraseHook on_erase, void* ctx);

  // Runs the table on memory that outlives the process (a mapped flow file, native/io/flow_file.h)
  // instead of its own: `map`/`map_bytes` is the whole mapping, released by the destructor, and
  // `entries` its slots, which the caller either zeroed or means to restore().
  void use_memory(void* map, size_t map_bytes, FlowEntry* entries);
  // Picks up the entries an earlier process left in the memory: recounts them, and erases each one
  // that is torn (fails its check), a duplicate left by an interrupted erase, or refused by
  // keep(ctx, entry). In place, so an interruption here too leaves a table the next start can read.
  struct Restored {
    uint32_t kept = 0, torn = 0, duplicate = 0, refused = 0;
  };
  using KeepHook = bool (*)(void* ctx, const FlowEntry& entry);
  Restored restore(KeepHook keep, void* ctx);

  uint32_t size() const { return size_; }
  uint32_t capacity() const { return capacity_; }
  uint32_t slots() const { return mask_ + 1; }
  const FlowEntry* slot(uint32_t i) const { return &entries_[i]; }
  // The raw slots, for read-only views from the control plane (the aging worker, `las flows`).
  const FlowEntry* data() const { return entries_; }

 private:
  static bool same_key(const FlowEntry& e, const FlowKeyFields& k) {
    return e.src == k.src && e.dst == k.dst && e.sport == k.sport && e.dport == k.dport && e.proto == k.proto;
  }
  uint32_t home(const FlowEntry& e) const;

  FlowEntry* entries_;
  void* map_;
  size_t bytes_;
  uint32_t mask_;
  uint32_t capacity_;
  uint32_t size_ = 0;
  uint32_t cursor_ = 0;
};

}  // namespace las
