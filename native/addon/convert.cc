#include "convert.h"

#include <arpa/inet.h>

#include <array>
#include <cstdio>
#include <cstring>
#include <map>
#include <set>
#include <tuple>

namespace las {

namespace {

Napi::Object object_field(Napi::Env env, const Napi::Object& o, const char* key, const std::string& where) {
  Napi::Value v = o.Get(key);
  if (!v.IsObject()) throw Napi::TypeError::New(env, where + "." + key + " must be an object");
  return v.As<Napi::Object>();
}

std::string string_field(Napi::Env env, const Napi::Object& o, const char* key, const std::string& where) {
  Napi::Value v = o.Get(key);
  if (!v.IsString()) throw Napi::TypeError::New(env, where + "." + key + " must be a string");
  return v.As<Napi::String>().Utf8Value();
}

uint32_t uint_field(Napi::Env env, const Napi::Object& o, const char* key, const std::string& where, uint32_t max) {
  Napi::Value v = o.Get(key);
  if (!v.IsNumber()) throw Napi::TypeError::New(env, where + "." + key + " must be a number");
  double d = v.As<Napi::Number>().DoubleValue();
  if (d < 0 || d > max || d != static_cast<double>(static_cast<uint64_t>(d)))
    throw Napi::RangeError::New(env, where + "." + key + " must be an integer from 0 to " + std::to_string(max));
  return static_cast<uint32_t>(d);
}

// The index of the field's value among `count` names (name_of(i)); otherwise an error listing them.
template <typename NameOf>
int named_field(Napi::Env env, const Napi::Object& o, const char* key, const std::string& where, int count, NameOf name_of) {
  std::string value = string_field(env, o, key, where);
  std::string accepted;
  for (int i = 0; i < count; ++i) {
    if (value == name_of(i)) return i;
    accepted += std::string(i == 0 ? "" : i + 1 == count ? " or " : ", ") + "\"" + name_of(i) + "\"";
  }
  throw Napi::TypeError::New(env, where + "." + key + " must be " + accepted);
}

}  // namespace

IpText parse_ip(Napi::Env env, const std::string& text, const std::string& field) {
  IpText ip{};
  in_addr a{};
  if (inet_pton(AF_INET, text.c_str(), &a) == 1) {
    ip.family = 4;
    ip.v4 = ntohl(a.s_addr);
  } else if (inet_pton(AF_INET6, text.c_str(), ip.v6) == 1) {
    ip.family = 6;
  } else {
    throw Napi::TypeError::New(env, field + ": \"" + text + "\" is not an IPv4 or IPv6 address");
  }
  return ip;
}

// family: the service's (its vip's); a server of the other family is refused, naming the field.
static ServerSpec server_from_js(Napi::Env env, const Napi::Object& r, const std::string& w, uint8_t family) {
  ServerSpec server{};
  const std::string text = string_field(env, r, "address", w);
  IpText ip = parse_ip(env, text, w + ".address");
  if (ip.family != family)
    throw Napi::TypeError::New(env, w + ".address: \"" + text + "\" is IPv" + std::to_string(ip.family) +
                                        " but the service's vip is IPv" + std::to_string(family) +
                                        ": a service's servers are of its vip's family");
  if (family == 6) {
    std::memcpy(server.addr6, ip.v6, 16);
    server.addr = server_identity6(ip.v6);
  } else {
    server.addr = ip.v4;
  }
  server.mac = parse_mac(env, string_field(env, r, "mac", w), w + ".mac");
  Napi::Value weight = r.Get("weight");
  server.weight = weight.IsUndefined() ? 1 : uint_field(env, r, "weight", w, 65535);
  Napi::Value up = r.Get("up");
  server.up = up.IsUndefined() ? true : up.ToBoolean().Value();
  return server;
}

uint32_t parse_ipv4(Napi::Env env, const std::string& text, const std::string& field) {
  in_addr a{};
  if (inet_pton(AF_INET, text.c_str(), &a) != 1)
    throw Napi::TypeError::New(env, field + ": \"" + text + "\" is not an IPv4 address");
  return ntohl(a.s_addr);
}

std::string format_ipv4(uint32_t addr) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%u.%u.%u.%u", addr >> 24, (addr >> 16) & 255, (addr >> 8) & 255, addr & 255);
  return buf;
}

Mac parse_mac(Napi::Env env, const std::string& text, const std::string& field) {
  Mac m{};
  unsigned b[6];
  char extra;
  if (std::sscanf(text.c_str(), "%2x:%2x:%2x:%2x:%2x:%2x%c", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5], &extra) != 6)
    throw Napi::TypeError::New(env, field + ": \"" + text + "\" is not a MAC address");
  for (int i = 0; i < 6; ++i) m.bytes[i] = static_cast<uint8_t>(b[i]);
  return m;
}

std::string format_ipv6(const uint8_t* addr) {
  char buf[INET6_ADDRSTRLEN];
  return inet_ntop(AF_INET6, addr, buf, sizeof buf) ? buf : "?";
}

std::string format_mac(const Mac& m) {
  char buf[18];
  std::snprintf(buf, sizeof buf, "%02x:%02x:%02x:%02x:%02x:%02x", m.bytes[0], m.bytes[1], m.bytes[2], m.bytes[3],
                m.bytes[4], m.bytes[5]);
  return buf;
}

// Flow entries and counters name a v6 server by a 32-bit hash of its address: two different
// addresses of one service with the same hash could not be told apart, so the service is refused.
static void refuse_identity_collisions(Napi::Env env, const ServiceSpec& spec, const std::string& where) {
  std::map<uint32_t, std::pair<std::array<uint8_t, 16>, std::string>> ids;
  auto check = [&](const ServerSpec& srv, const std::string& name) {
    std::array<uint8_t, 16> a;
    std::memcpy(a.data(), srv.addr6, 16);
    auto [it, fresh] = ids.emplace(srv.addr, std::make_pair(a, name));
    if (!fresh && it->second.first != a)
      throw Napi::RangeError::New(env, where + "." + name + ".address " + format_ipv6(srv.addr6) + " has the same 32-bit identity as " +
                                           it->second.second + " (" + format_ipv6(it->second.first.data()) +
                                           "): use another address for one of them");
  };
  for (size_t j = 0; j < spec.servers.size(); ++j) check(spec.servers[j], "servers[" + std::to_string(j) + "]");
  if (spec.has_sorry) check(spec.sorry, "sorryServer");
}

std::vector<ServiceSpec> snapshot_from_js(Napi::Env env, const Napi::Value& value) {
  if (!value.IsObject()) throw Napi::TypeError::New(env, "snapshot must be an object");
  Napi::Value list = value.As<Napi::Object>().Get("services");
  if (!list.IsArray()) throw Napi::TypeError::New(env, "snapshot.services must be an array");
  Napi::Array services = list.As<Napi::Array>();
  if (services.Length() > 0xfffe) throw Napi::RangeError::New(env, "too many services");
  std::vector<ServiceSpec> out;
  // (v4 vip, v6 vip, port, protocol) -> index
  std::map<std::tuple<uint32_t, std::array<uint8_t, 16>, uint16_t, uint8_t>, uint32_t> seen;
  for (uint32_t i = 0; i < services.Length(); ++i) {
    std::string where = "services[" + std::to_string(i) + "]";
    Napi::Value sv = services.Get(i);
    if (!sv.IsObject()) throw Napi::TypeError::New(env, where + " must be an object");
    Napi::Object s = sv.As<Napi::Object>();
    ServiceSpec spec{};
    IpText vip = parse_ip(env, string_field(env, s, "vip", where), where + ".vip");
    spec.family = vip.family;
    spec.vip = vip.family == 4 ? vip.v4 : fold_ipv6(vip.v6);
    std::memcpy(spec.vip6, vip.v6, 16);
    std::array<uint8_t, 16> vip6;
    std::memcpy(vip6.data(), vip.v6, 16);
    spec.port = static_cast<uint16_t>(uint_field(env, s, "port", where, 65535));
    std::string proto = string_field(env, s, "protocol", where);
    if (proto == "tcp") spec.proto = kProtoTcp;
    else if (proto == "udp") spec.proto = kProtoUdp;
    else throw Napi::TypeError::New(env, where + ".protocol must be \"tcp\" or \"udp\"");
    // The fast path would find only one of two services with the same key (found by fuzzing).
    auto [first, fresh] = seen.emplace(std::make_tuple(vip.v4, vip6, spec.port, spec.proto), i);
    if (!fresh)
      throw Napi::RangeError::New(env, where + " has the vip, port and protocol of services[" + std::to_string(first->second) +
                                           "]: a VIP, port and protocol can belong to one service only");
    spec.flow_key = static_cast<FlowKeyMode>(named_field(env, s, "flowKey", where, kFlowKeyCount, [](int i) { return kFlowKeyNames[i]; }));
    spec.scheduler = static_cast<SchedulerKind>(named_field(env, s, "scheduler", where, kSchedulerCount, [](int i) {
      return scheduler_name(static_cast<SchedulerKind>(i));
    }));
    spec.maglev_size = uint_field(env, s, "maglevTableSize", where, 1u << 24);
    if (scheduler_of(spec.scheduler).table_size && !is_prime(spec.maglev_size))
      throw Napi::RangeError::New(env, where + ".maglevTableSize must be prime");
    Napi::Value srv_list = s.Get("servers");
    if (!srv_list.IsArray()) throw Napi::TypeError::New(env, where + ".servers must be an array");
    Napi::Array servers = srv_list.As<Napi::Array>();
    if (servers.Length() >= kNoServer) throw Napi::RangeError::New(env, where + ".servers: too many servers");
    for (uint32_t j = 0; j < servers.Length(); ++j) {
      std::string w = where + ".servers[" + std::to_string(j) + "]";
      Napi::Value rv = servers.Get(j);
      if (!rv.IsObject()) throw Napi::TypeError::New(env, w + " must be an object");
      Napi::Object r = rv.As<Napi::Object>();
      spec.servers.push_back(server_from_js(env, r, w, spec.family));
    }
    Napi::Value down = s.Get("onServerDown");
    if (down.IsString()) {
      std::string policy = down.As<Napi::String>().Utf8Value();
      if (policy == "reschedule") spec.reschedule_when_down = true;
      else if (policy == "keep") spec.reschedule_when_down = false;
      else throw Napi::TypeError::New(env, where + ".onServerDown must be \"reschedule\" or \"keep\"");
    }
    Napi::Value sorry = s.Get("sorryServer");
    if (sorry.IsObject()) {
      spec.has_sorry = true;
      spec.sorry = server_from_js(env, sorry.As<Napi::Object>(), where + ".sorryServer", spec.family);
    }
    if (spec.family == 6) refuse_identity_collisions(env, spec, where);
    out.push_back(std::move(spec));
  }
  return out;
}

uint32_t second_chance_from_js(Napi::Env env, const Napi::Value& value) {
  Napi::Value v = value.As<Napi::Object>().Get("secondChanceMs");
  if (v.IsUndefined()) return 0;
  // At most 24 days: the window is compared as a signed difference of the 32-bit flow clock.
  return uint_field(env, value.As<Napi::Object>(), "secondChanceMs", "snapshot", (1u << 31) - 1);
}

DataplaneConfig options_from_js(Napi::Env env, const Napi::Value& value) {
  if (!value.IsObject()) throw Napi::TypeError::New(env, "options must be an object");
  Napi::Object o = value.As<Napi::Object>();
  const std::string w = "options";
  DataplaneConfig c;
  c.ingress_if = string_field(env, o, "interface", w);
  c.egress_if = string_field(env, o, "egressInterface", w);
  c.workers = uint_field(env, o, "workers", w, 64);
  if (c.workers == 0) throw Napi::RangeError::New(env, "options.workers must be at least 1");
  Napi::Value cpus = o.Get("cpus");
  if (!cpus.IsArray()) throw Napi::TypeError::New(env, "options.cpus must be an array");
  Napi::Array ca = cpus.As<Napi::Array>();
  for (uint32_t i = 0; i < ca.Length(); ++i) c.cpus.push_back(ca.Get(i).As<Napi::Number>().Int32Value());
  c.tx_mode = static_cast<TxMode>(named_field(env, o, "txMode", w, kTxModeCount, [](int i) { return kTxModeNames[i]; }));
  c.flow_capacity = uint_field(env, o, "flowCapacity", w, 1u << 27);
  c.idle_ms = uint_field(env, o, "flowIdleTimeoutMs", w, 0x7fffffff);
  // The v6 table's capacity; absent: WorkerState::default_flow6_capacity (a quarter of flowCapacity).
  if (!o.Get("flowCapacityV6").IsUndefined()) c.flow6_capacity = uint_field(env, o, "flowCapacityV6", w, 1u << 27);
  Napi::Object ring = object_field(env, o, "ring", w);
  c.ring.block_size = uint_field(env, ring, "blockSize", w + ".ring", 1u << 30);
  c.ring.block_count = uint_field(env, ring, "blockCount", w + ".ring", 1u << 16);
  c.ring.frame_size = uint_field(env, ring, "frameSize", w + ".ring", 1u << 20);
  c.ring.retire_timeout_ms = uint_field(env, ring, "retireTimeoutMs", w + ".ring", 60000);
  c.fanout_id = static_cast<int>(uint_field(env, o, "fanoutId", w, 65535));
  c.gratuitous_arp = o.Get("gratuitousArp").ToBoolean().Value();
  c.start_active = o.Get("standby").IsUndefined() || !o.Get("standby").ToBoolean().Value();
  Napi::Value filter = o.Get("filter");
  if (filter.IsArray()) c.filter = filter_from_js(env, filter, "options.filter");
  Napi::Value flow_files = o.Get("flowFilePrefix");
  if (!flow_files.IsUndefined()) c.flow_file_prefix = string_field(env, o, "flowFilePrefix", w);
  return c;
}

std::vector<sock_filter> filter_from_js(Napi::Env env, const Napi::Value& value, const std::string& field) {
  if (!value.IsArray()) throw Napi::TypeError::New(env, field + " must be an array of [code, jt, jf, k]");
  Napi::Array fa = value.As<Napi::Array>();
  std::vector<sock_filter> out;
  for (uint32_t i = 0; i < fa.Length(); ++i) {
    Napi::Value iv = fa.Get(i);
    if (!iv.IsArray() || iv.As<Napi::Array>().Length() != 4)
      throw Napi::TypeError::New(env, field + "[" + std::to_string(i) + "] must be [code, jt, jf, k]");
    Napi::Array ins = iv.As<Napi::Array>();
    sock_filter f{};
    f.code = static_cast<uint16_t>(ins.Get(0u).As<Napi::Number>().Uint32Value());
    f.jt = static_cast<uint8_t>(ins.Get(1u).As<Napi::Number>().Uint32Value());
    f.jf = static_cast<uint8_t>(ins.Get(2u).As<Napi::Number>().Uint32Value());
    f.k = ins.Get(3u).As<Napi::Number>().Uint32Value();
    out.push_back(f);
  }
  return out;
}

Napi::Object worker_counters_to_js(Napi::Env env, const WorkerStats& w) {
  Napi::Object o = Napi::Object::New(env);
  for (int i = 0; i < kWorkerCounterCount; ++i) o.Set(kWorkerCounterNames[i], Napi::BigInt::New(env, w.by_index(i)));
  // Frames the worker could not hand to the kernel, whatever the transmit path.
  o.Set("txErrors", Napi::BigInt::New(env, w.drops[static_cast<int>(DropReason::TxError)] +
                                               w.drops[static_cast<int>(DropReason::TxRingFull)]));
  Napi::Object drops = Napi::Object::New(env);
  for (int r = 0; r < kDropReasonCount; ++r)
    drops.Set(drop_reason_name(static_cast<DropReason>(r)), Napi::BigInt::New(env, w.drops[r]));
  o.Set("drops", drops);
  return o;
}

Napi::Object stats_to_js(Napi::Env env, const DataplaneStats& stats) {
  Napi::Object out = Napi::Object::New(env);
  Napi::Array workers = Napi::Array::New(env, stats.workers.size());
  for (size_t i = 0; i < stats.workers.size(); ++i) workers.Set(i, worker_counters_to_js(env, stats.workers[i]));
  out.Set("workers", workers);
  Napi::Array services = Napi::Array::New(env, stats.services.size());
  for (size_t i = 0; i < stats.services.size(); ++i) {
    const ServiceStats& s = stats.services[i];
    Napi::Object so = Napi::Object::New(env);
    so.Set("vip", s.family == 6 ? format_ipv6(s.vip6.data()) : format_ipv4(s.vip));
    so.Set("port", s.port);
    so.Set("protocol", s.proto == kProtoTcp ? "tcp" : "udp");
    so.Set("packets", Napi::BigInt::New(env, s.totals.packets));
    so.Set("bytes", Napi::BigInt::New(env, s.totals.bytes));
    so.Set("newFlows", Napi::BigInt::New(env, s.totals.new_flows));
    so.Set("noServer", Napi::BigInt::New(env, s.totals.no_server));
    Napi::Array servers = Napi::Array::New(env, s.servers.size());
    for (size_t j = 0; j < s.servers.size(); ++j) {
      Napi::Object r = Napi::Object::New(env);
      r.Set("address", s.family == 6 ? format_ipv6(s.servers6[j].data()) : format_ipv4(s.servers[j].first));
      r.Set("packets", Napi::BigInt::New(env, s.servers[j].second.packets));
      r.Set("bytes", Napi::BigInt::New(env, s.servers[j].second.bytes));
      r.Set("newFlows", Napi::BigInt::New(env, s.servers[j].second.new_flows));
      r.Set("activeFlows", Napi::BigInt::New(env, s.servers[j].second.active_flows));
      servers.Set(j, r);
    }
    so.Set("servers", servers);
    services.Set(i, so);
  }
  out.Set("services", services);
  return out;
}

Napi::Array flow_files_to_js(Napi::Env env, const std::vector<FlowFileReport>& reports) {
  Napi::Array out = Napi::Array::New(env, reports.size());
  for (size_t i = 0; i < reports.size(); ++i) {
    const FlowFileReport& r = reports[i];
    Napi::Object o = Napi::Object::New(env);
    o.Set("path", r.path);
    o.Set("worker", r.worker);
    o.Set("family", r.family);
    o.Set("emptyBecause", r.empty_because.empty() ? env.Null() : Napi::String::New(env, r.empty_because));
    o.Set("kept", r.restored.kept);
    o.Set("torn", r.restored.torn);
    o.Set("duplicate", r.restored.duplicate);
    o.Set("refused", r.restored.refused);
    out.Set(static_cast<uint32_t>(i), o);
  }
  return out;
}

}  // namespace las
