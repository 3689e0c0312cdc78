#include "contract.h"

#include <cstddef>
#include <vector>

#include "../dataplane/worker_counters.h"
#include "../io/dataplane.h"
#include "../lb/flow_table.h"
#include "../lb/scheduler.h"
#include "../packet/consts.h"

namespace las {

namespace {

Napi::Array names(Napi::Env env, const std::vector<const char*>& list) {
  Napi::Array out = Napi::Array::New(env, list.size());
  for (size_t i = 0; i < list.size(); ++i) out.Set(static_cast<uint32_t>(i), list[i]);
  return out;
}

template <typename T, size_t N>
std::vector<const char*> all(const T (&list)[N]) {
  return std::vector<const char*>(list, list + N);
}

Napi::Object field(Napi::Env env, size_t offset, size_t bytes) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("offset", static_cast<uint32_t>(offset));
  o.Set("bytes", static_cast<uint32_t>(bytes));
  return o;
}

}  // namespace

void export_contract(Napi::Env env, Napi::Object exports) {
  std::vector<const char*> schedulers, table_size, reasons;
  for (int k = 0; k < kSchedulerCount; ++k) {
    const Scheduler& s = scheduler_of(static_cast<SchedulerKind>(k));
    schedulers.push_back(s.name);
    if (s.table_size) table_size.push_back(s.name);
  }
  for (int r = 0; r < kDropReasonCount; ++r) reasons.push_back(drop_reason_name(static_cast<DropReason>(r)));

  Napi::Object fields = Napi::Object::New(env);
#define LAS_FIELD(member, name) fields.Set(name, field(env, offsetof(FlowEntry, member), sizeof(FlowEntry::member)));
  LAS_FLOW_ENTRY_FIELDS(LAS_FIELD)
#undef LAS_FIELD
  Napi::Object fields6 = Napi::Object::New(env);
#define LAS_FIELD(member, name) fields6.Set(name, field(env, offsetof(FlowEntry6, member), sizeof(FlowEntry6::member)));
  LAS_FLOW_ENTRY_FIELDS(LAS_FIELD)
#undef LAS_FIELD
  Napi::Object tcp = Napi::Object::New(env);
  tcp.Set("FIN", kTcpFin);
  tcp.Set("SYN", kTcpSyn);
  tcp.Set("RST", kTcpRst);
  tcp.Set("ACK", kTcpAck);

  const std::pair<const char*, Napi::Value> values[] = {
      {"SCHEDULERS", names(env, schedulers)},
      {"TABLE_SIZE_SCHEDULERS", names(env, table_size)},
      {"FLOW_KEYS", names(env, all(kFlowKeyNames))},
      {"TX_MODES", names(env, all(kTxModeNames))},
      {"WORKER_COUNTERS", names(env, all(kWorkerCounterNames))},
      {"DROP_REASONS", names(env, reasons)},
      {"FLOW_ENTRY_BYTES", Napi::Number::New(env, sizeof(FlowEntry))},
      {"FLOW_ENTRY_FIELDS", fields},
      {"FLOW_ENTRY6_BYTES", Napi::Number::New(env, sizeof(FlowEntry6))},
      {"FLOW_ENTRY6_FIELDS", fields6},
      {"TCP_FLAGS_SEEN", tcp},
  };
  for (const auto& [name, value] : values)
    exports.DefineProperty(Napi::PropertyDescriptor::Value(name, value, napi_enumerable));
}

}  // namespace las
