// What both sides of the N-API boundary must agree on, exported from the native lists themselves
// (X-macros and the scheduler registration): src/native/contract.ts holds the TypeScript copies and
// checks them against these when the addon is loaded.
#pragma once
#include <napi.h>

namespace las {

// Defines read-only SCHEDULERS, TABLE_SIZE_SCHEDULERS, FLOW_KEYS, TX_MODES, WORKER_COUNTERS,
// DROP_REASONS, FLOW_ENTRY_BYTES, FLOW_ENTRY_FIELDS and TCP_FLAGS_SEEN on `exports`.
void export_contract(Napi::Env env, Napi::Object exports);

}  // namespace las
