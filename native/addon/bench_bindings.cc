#include "bench_bindings.h"

namespace las {
void register_bench_bindings(Napi::Env, Napi::Object) {}
}  // namespace las
