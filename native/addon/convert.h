// JS <-> C++ conversion of the plain structs that cross the boundary. Throws Napi::Error naming the
// field on bad input, so a mistake in the TypeScript layer is caught with a readable message.
#pragma once
#include <napi.h>

#include <string>
#include <vector>

#include "../io/dataplane.h"
#include "../lb/snapshot.h"

namespace las {

uint32_t parse_ipv4(Napi::Env env, const std::string& text, const std::string& field);
std::string format_ipv4(uint32_t addr);
// An address of either family, as the config writes it: family 4 fills v4 (host order), 6 fills v6.
struct IpText {
  uint8_t family;
  uint32_t v4;
  uint8_t v6[16];
};
IpText parse_ip(Napi::Env env, const std::string& text, const std::string& field);
// 16 bytes as on the wire, in RFC 5952 text (inet_ntop).
std::string format_ipv6(const uint8_t* addr);
Mac parse_mac(Napi::Env env, const std::string& text, const std::string& field);
std::string format_mac(const Mac& mac);

std::vector<ServiceSpec> snapshot_from_js(Napi::Env env, const Napi::Value& value);
// The snapshot's optional secondChanceMs (ha.secondChance.window in ms), 0 when absent.
uint32_t second_chance_from_js(Napi::Env env, const Napi::Value& value);
DataplaneConfig options_from_js(Napi::Env env, const Napi::Value& value);
std::vector<sock_filter> filter_from_js(Napi::Env env, const Napi::Value& value, const std::string& field);
Napi::Object stats_to_js(Napi::Env env, const DataplaneStats& stats);
// [{ path, emptyBecause: string | null, kept, torn, duplicate, refused }], one per worker.
Napi::Array flow_files_to_js(Napi::Env env, const std::vector<FlowFileReport>& reports);
Napi::Object worker_counters_to_js(Napi::Env env, const WorkerStats& w);

}  // namespace las
