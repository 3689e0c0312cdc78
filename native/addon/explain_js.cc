#include "explain_js.h"

#include <cstdio>
#include <cstring>
#include <memory>

#include "../lb/scheduler.h"
#include "convert.h"

namespace las {

namespace {

uint16_t port_field(Napi::Env env, const Napi::Object& o, const char* key, const std::string& where) {
  Napi::Value v = o.Get(key);
  double d = v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : -1;
  if (d < 0 || d > 65535 || d != static_cast<double>(static_cast<uint32_t>(d)))
    throw Napi::RangeError::New(env, where + "." + key + " must be a port number from 0 to 65535");
  return static_cast<uint16_t>(d);
}

Napi::Value server_to_js(Napi::Env env, const ServerView& s, uint8_t family) {
  if (s.index < 0) return env.Null();
  Napi::Object o = Napi::Object::New(env);
  o.Set("index", s.index);
  o.Set("address", family == 6 ? format_ipv6(s.addr6) : format_ipv4(s.addr));
  o.Set("weight", s.weight);
  o.Set("up", s.up);
  o.Set("sorry", s.sorry);
  return o;
}

// An entry names its server by identity: a v6 server that left the service is shown by that hash.
std::string entry_server_text(const Explanation& x) {
  if (x.family != 6) return format_ipv4(x.entry_server_addr);
  if (x.entry_server.index >= 0) return format_ipv6(x.entry_server.addr6);
  char buf[32];
  std::snprintf(buf, sizeof buf, "v6 server %08x", x.entry_server_addr);
  return buf;
}

Napi::Object explanation_to_js(Napi::Env env, const Explanation& x) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("isVip", x.vip);
  o.Set("reason", x.reason == DropReason::Count ? env.Null() : Napi::String::New(env, drop_reason_name(x.reason)));
  o.Set("generation", static_cast<double>(x.generation));
  if (x.service < 0) {
    o.Set("service", env.Null());
    return o;
  }
  o.Set("service", x.service);
  o.Set("scheduler", scheduler_name(x.scheduler));
  o.Set("flowKey", kFlowKeyNames[static_cast<int>(x.flow_key)]);
  Napi::Object key = Napi::Object::New(env);
  key.Set("client", x.family == 6 ? format_ipv6(x.client6) : format_ipv4(x.key.src));
  key.Set("clientPort", x.key.sport);
  key.Set("vip", x.family == 6 ? format_ipv6(x.vip6) : format_ipv4(x.key.dst));
  key.Set("port", x.key.dport);
  o.Set("key", key);
  o.Set("worker", x.worker);
  if (x.has_entry) {
    Napi::Object e = Napi::Object::New(env);
    e.Set("serverAddress", entry_server_text(x));
    e.Set("server", server_to_js(env, x.entry_server, x.family));
    e.Set("live", x.entry_live);
    e.Set("tcpFlagsSeen", x.tcp_flags_seen);
    e.Set("ageMs", x.age_ms);
    e.Set("idleMs", x.idle_ms);
    o.Set("entry", e);
  } else {
    o.Set("entry", env.Null());
  }
  Napi::Object n = Napi::Object::New(env);
  n.Set("server", server_to_js(env, x.new_server, x.family));
  n.Set("sorry", x.sorry);
  n.Set("position", x.position < 0 ? env.Null() : Napi::Number::New(env, static_cast<double>(x.position)));
  n.Set("tableSize", x.table_size);
  n.Set("load", static_cast<double>(x.load));
  n.Set("totalWeight", x.total_weight);
  o.Set("newFlow", n);
  o.Set("server", server_to_js(env, x.server, x.family));
  o.Set("fromEntry", x.from_entry);
  if (x.second_chance.index >= 0) {
    Napi::Object sc = Napi::Object::New(env);
    sc.Set("server", server_to_js(env, x.second_chance, x.family));
    sc.Set("leftMs", x.second_chance_left_ms);
    o.Set("secondChance", sc);
  } else {
    o.Set("secondChance", env.Null());
  }
  return o;
}

}  // namespace

std::vector<ExplainTuple> tuples_from_js(Napi::Env env, const Napi::Value& value) {
  if (!value.IsArray()) throw Napi::TypeError::New(env, "tuples must be an array");
  Napi::Array list = value.As<Napi::Array>();
  if (list.Length() > 100000) throw Napi::RangeError::New(env, "at most 100000 tuples at once");
  std::vector<ExplainTuple> out;
  for (uint32_t i = 0; i < list.Length(); ++i) {
    std::string where = "tuples[" + std::to_string(i) + "]";
    Napi::Value v = list.Get(i);
    if (!v.IsObject()) throw Napi::TypeError::New(env, where + " must be an object");
    Napi::Object o = v.As<Napi::Object>();
    ExplainTuple t{};
    std::string proto = o.Get("protocol").ToString().Utf8Value();
    if (proto == "tcp") t.proto = kProtoTcp;
    else if (proto == "udp") t.proto = kProtoUdp;
    else throw Napi::TypeError::New(env, where + ".protocol must be \"tcp\" or \"udp\"");
    IpText client = parse_ip(env, o.Get("client").ToString().Utf8Value(), where + ".client");
    t.sport = port_field(env, o, "clientPort", where);
    IpText vip = parse_ip(env, o.Get("vip").ToString().Utf8Value(), where + ".vip");
    if (client.family != vip.family)
      throw Napi::TypeError::New(env, where + ".client is IPv" + std::to_string(client.family) + " but " + where +
                                          ".vip is IPv" + std::to_string(vip.family) + ": a flow is of one family");
    t.family = vip.family;
    t.src = client.v4;
    t.dst = vip.v4;
    std::memcpy(t.src6, client.v6, 16);
    std::memcpy(t.dst6, vip.v6, 16);
    t.dport = port_field(env, o, "port", where);
    out.push_back(t);
  }
  return out;
}

Napi::Array explanations_to_js(Napi::Env env, const std::vector<Explanation>& xs) {
  Napi::Array out = Napi::Array::New(env, xs.size());
  for (size_t i = 0; i < xs.size(); ++i) out.Set(static_cast<uint32_t>(i), explanation_to_js(env, xs[i]));
  return out;
}

Napi::Value explain_offline(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::vector<ServiceSpec> specs = snapshot_from_js(env, info[0]);
  if (!info[1].IsObject()) throw Napi::TypeError::New(env, "explainFlows(snapshot, {workers, flowIdleTimeoutMs}, tuples)");
  Napi::Object opts = info[1].As<Napi::Object>();
  double workers_d = opts.Get("workers").ToNumber().DoubleValue();
  if (!(workers_d >= 1 && workers_d <= 64)) throw Napi::RangeError::New(env, "options.workers must be from 1 to 64");
  uint32_t workers = static_cast<uint32_t>(workers_d);
  uint32_t idle_ms = opts.Get("flowIdleTimeoutMs").ToNumber().Uint32Value();
  std::vector<ExplainTuple> tuples = tuples_from_js(env, info[2]);
  // As a daemon just started: one empty shard per worker, each worker's cursors where adopt() puts them.
  Snapshot snap(std::move(specs), workers, 1);
  std::vector<std::unique_ptr<WorkerState>> states;
  for (uint32_t i = 0; i < workers; ++i) {
    states.emplace_back(new WorkerState(1, idle_ms, i));
    states.back()->adopt(snap);
  }
  std::vector<Explanation> xs;
  for (const ExplainTuple& t : tuples) {
    uint32_t owner = explain_worker(t, snap, *states[0], workers);
    xs.push_back(explain_flow(t, snap, *states[owner], workers, 0));
  }
  return explanations_to_js(env, xs);
}

}  // namespace las
