// The world the frame fuzz target decides in: realistic snapshots (the golden frames' services, so
// the seed frames reach every verdict, plus every other scheduler, sorry servers, down servers and
// the "keep" policy) and one worker whose flow table is refilled before each input to a chosen
// state (full of live flows, full with half of them idle, half full), then emptied again.
#pragma once
#include <cstdint>
#include <memory>
#include <vector>

#include "../dataplane/classify.h"
#include "../lb/snapshot.h"

namespace las::fuzz {

constexpr uint32_t kWorkers = 4;              // counter blocks in every snapshot
constexpr uint32_t kFlowCapacity = 256;       // small, so that "full" is reached and probed often
constexpr uint32_t kIdleMs = 60'000;
constexpr uint32_t kUnknownServer = 0x0a000909;  // 10.0.9.9: a flow's server no snapshot lists

enum class SnapshotKind : uint8_t { Main, AllDown, Empty };
enum class TableFill : uint8_t { FullLive, FullHalfIdle, Half, Empty };

// Host-order IPv4 from its four parts.
constexpr uint32_t ip4(uint32_t a, uint32_t b, uint32_t c, uint32_t d) { return a << 24 | b << 16 | c << 8 | d; }

const Snapshot& world_snapshot(SnapshotKind kind);

// Every server address any world snapshot names, and the unknown one: what ServerLoad may track.
const std::vector<uint32_t>& world_server_addresses();

// Fills w's flow table to `fill` with flows of snap's services (keyed as the classifier keys them),
// deterministically; live flows were last seen within the idle timeout before now_ms.
void fill_flows(WorkerState& w, const Snapshot& snap, TableFill fill, uint32_t now_ms);

// Removes every flow through the worker's erase hook, then checks that the per-server load went
// back to zero for every address of `addresses`: a flow counted in or out twice would show here.
void empty_flows_and_check_load(WorkerState& w, uint32_t now_ms, const std::vector<uint32_t>& addresses);

}  // namespace las::fuzz
