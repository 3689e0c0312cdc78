// The benchmark's baseline: the product's I/O workers (same rings, fanout, waiting and transmit
// paths) with the decision taken out. Every received frame goes to the first server of the first
// service, its MACs rewritten, nothing parsed and no flow kept: what the machine costs before LAS's
// own logic. Built into las_bench only; the daemon's addon has no such mode.
#pragma once
#include <cstdint>
#include <memory>

#include "../io/dataplane.h"

namespace las::bench {

std::unique_ptr<Worker> make_pass_through_worker(Dataplane& dp, uint32_t index);

}  // namespace las::bench
