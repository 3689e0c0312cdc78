// Benchmark-only bindings (traffic generator, sink, micro-benchmarks), kept apart from the product API.
#pragma once
#include <napi.h>

namespace las {
void register_bench_bindings(Napi::Env env, Napi::Object exports);
}
