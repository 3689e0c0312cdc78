// Micro-benchmarks of the fast path's building blocks, timed in C++ so that nothing of N-API is in
// the figures. Each runs synchronously on the calling thread and returns plain numbers.
#pragma once
#include <cstdint>
#include <vector>

#include "../lb/snapshot.h"

namespace las::bench {

struct ClassifyBenchResult {
  double ns_per_frame;
  uint64_t frames;  // frames classified in the timed loop
};

// las::classify() over copies of `frames`, `iterations` times, with a flow table of flow_capacity
// entries pre-filled with `prefill` live flows so lookups probe a big table.
ClassifyBenchResult bench_classify(const std::vector<std::vector<uint8_t>>& frames, std::vector<ServiceSpec> services,
                                   uint32_t iterations, uint32_t flow_capacity, uint32_t prefill);

struct FlowTableBenchResult {
  double insert_ns;          // per insert, filling the table from empty to `entries`
  double lookup_hit_ns;      // per find of a random present key
  double lookup_miss_ns;     // per find of an absent key
  double erase_ns;           // per find + erase of a random present key
  double sweep_ns_per_slot;  // sweep() over every slot of the full table, nothing expiring
  double bytes_per_entry;    // table bytes / entries: the memory one flow costs at this capacity
  uint64_t table_bytes;
};

FlowTableBenchResult bench_flow_table(uint32_t entries, uint32_t operations);

struct SecondChanceBenchResult {
  double off_ns;            // per frame, second chance off (no previous table)
  double on_ns;             // per frame, the same frames with the previous table in its window
  uint64_t frames;          // frames timed per variant
  uint64_t by_previous;     // of the "on" frames, sent by the previous table (its choice differed)
  uint64_t previous_bytes;  // the previous table kept by the service (second chance's memory)
};

// The path second chance adds to: TCP packets without SYN of `flows` flows that have no entry (as
// when their ECMP route moved to this dispatcher) on a service that went from `servers` to
// servers + 1 servers. Each round classifies every frame once with the previous table kept and
// once without it (interleaved, so both see the same machine), and removes the entries it made
// outside the timed part, so every timed frame takes the no-entry path.
SecondChanceBenchResult bench_second_chance(uint32_t servers, uint32_t table_size, uint32_t flows, uint32_t rounds);

// Average nanoseconds per las::build_maglev_table() for `servers` servers of weight 1.
double bench_maglev(uint32_t servers, uint32_t size, uint32_t repetitions);

}  // namespace las::bench
