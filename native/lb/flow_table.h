// One worker's flow-table shard: open addressing with linear probing and backward-shift deletion.
// Single writer (its I/O thread), fixed capacity chosen at start, no allocation after that.
// One template, two entry types: v4 flows keep their 32-byte entry, v6 flows live in a table of
// their own 64-byte entries (FlowTable6), so IPv6 does not double the size of every v4 entry.
#pragma once
#include <cstdint>
#include <cstddef>
#include <cstring>
#include <utility>

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

// 64 bytes: one entry per cache line. The same fields as FlowEntry, with 16-byte addresses.
struct FlowEntry6 {
  uint8_t src[16];
  uint8_t dst[16];
  uint16_t sport;
  uint16_t dport;
  uint8_t proto;
  uint8_t used;
  uint8_t tcp_flags_seen;
  uint8_t reserved;
  uint32_t server_addr;    // the server's 32-bit identity (server_identity6 of its address)
  uint32_t last_seen_ms;
  uint32_t created_ms;
  uint32_t check;
  uint8_t pad[8];          // to a whole cache line: a lookup touches one line, never two
};
static_assert(sizeof(FlowEntry6) == 64, "v6 flow entry must stay one cache line");

inline FlowKeyFields key_of(const FlowEntry& e) { return FlowKeyFields{e.src, e.dst, e.sport, e.dport, e.proto}; }
inline FlowKey6 key_of(const FlowEntry6& e) {
  FlowKey6 k;
  std::memcpy(k.src, e.src, 16);
  std::memcpy(k.dst, e.dst, 16);
  k.sport = e.sport;
  k.dport = e.dport;
  k.proto = e.proto;
  return k;
}
inline uint64_t table_hash(const FlowKeyFields& k) { return hash_flow(k, kFlowTableSeed); }
inline uint64_t table_hash(const FlowKey6& k) { return hash_flow6(k, kFlowTableSeed); }
inline bool same_key(const FlowEntry& e, const FlowKeyFields& k) {
  return e.src == k.src && e.dst == k.dst && e.sport == k.sport && e.dport == k.dport && e.proto == k.proto;
}
inline bool same_key(const FlowEntry6& e, const FlowKey6& k) {
  return std::memcmp(e.src, k.src, 16) == 0 && std::memcmp(e.dst, k.dst, 16) == 0 && e.sport == k.sport &&
         e.dport == k.dport && e.proto == k.proto;
}
inline void set_key(FlowEntry& e, const FlowKeyFields& k) {
  e.src = k.src;
  e.dst = k.dst;
  e.sport = k.sport;
  e.dport = k.dport;
  e.proto = k.proto;
}
inline void set_key(FlowEntry6& e, const FlowKey6& k) {
  std::memcpy(e.src, k.src, 16);
  std::memcpy(e.dst, k.dst, 16);
  e.sport = k.sport;
  e.dport = k.dport;
  e.proto = k.proto;
}
inline uint32_t entry_check(const FlowEntry6& e) {
  return static_cast<uint32_t>(hash_flow6(key_of(e), kFlowTableSeed ^ (uint64_t{e.server_addr} << 17))) | 1u;
}
inline void seal(FlowEntry6& e) { e.check = entry_check(e); }

// What restore() did with the entries an earlier process left (the same for both entry types).
struct FlowRestored {
  uint32_t kept = 0, torn = 0, duplicate = 0, refused = 0;
};

template <typename Entry>
class BasicFlowTable {
 public:
  using Key = decltype(key_of(std::declval<const Entry&>()));
  // capacity: the most entries it will hold; slots are the next power of two >= capacity * 4/3.
  explicit BasicFlowTable(uint32_t capacity);
  ~BasicFlowTable();
  BasicFlowTable(const BasicFlowTable&) = delete;
  BasicFlowTable& operator=(const BasicFlowTable&) = delete;

  Entry* find(const Key& key, uint64_t hash);
  void prefetch(uint64_t hash) const { __builtin_prefetch(&entries_[static_cast<uint32_t>(hash) & mask_], 1); }
  // Returns nullptr when the table already holds `capacity` entries (the caller forwards statelessly).
  Entry* insert(const Key& key, uint64_t hash);
  void erase(Entry* entry);
  // Examines up to `budget` slots from a rotating cursor and removes entries idle for longer than
  // idle_ms, calling on_erase(ctx, entry) first. Returns how many it removed.
  using EraseHook = void (*)(void* ctx, const Entry& entry);
  uint32_t sweep(uint32_t now_ms, uint32_t idle_ms, uint32_t budget, EraseHook on_erase, void* ctx);

  // Runs the table on memory that outlives the process (a mapped flow file, native/io/flow_file.h)
  // instead of its own: `map`/`map_bytes` is the whole mapping, released by the destructor, and
  // `entries` its slots, which the caller either zeroed or means to restore().
  void use_memory(void* map, size_t map_bytes, Entry* entries);
  // Picks up the entries an earlier process left in the memory: recounts them, and erases each one
  // that is torn (fails its check), a duplicate left by an interrupted erase, or refused by
  // keep(ctx, entry). In place, so an interruption here too leaves a table the next start can read.
  using Restored = FlowRestored;
  using KeepHook = bool (*)(void* ctx, const Entry& entry);
  Restored restore(KeepHook keep, void* ctx);

  uint32_t size() const { return size_; }
  uint32_t capacity() const { return capacity_; }
  uint32_t slots() const { return mask_ + 1; }
  const Entry* slot(uint32_t i) const { return &entries_[i]; }
  // The raw slots, for read-only views from the control plane (the aging worker, `las flows`).
  const Entry* data() const { return entries_; }

 private:
  uint32_t home(const Entry& e) const;

  Entry* entries_;
  void* map_;
  size_t bytes_;
  uint32_t mask_;
  uint32_t capacity_;
  uint32_t size_ = 0;
  uint32_t cursor_ = 0;
};

using FlowTable = BasicFlowTable<FlowEntry>;
using FlowTable6 = BasicFlowTable<FlowEntry6>;

}  // namespace las
