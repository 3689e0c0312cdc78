// N-API entry of the daemon's addon (las_native): Dataplane (the running fast path) and the helpers
// the control plane uses. Only the product: the benchmark and test tools are in las_bench
// (bench_addon.cc). Context-aware (Napi::Addon), so worker threads may load it too.
#include <napi.h>

#include <cstring>
#include <memory>

#include "../io/dataplane.h"
#include "../io/packet_socket.h"
#include "../io/worker.h"
#include "../lb/maglev.h"
#include "../os/capabilities.h"
#include "../os/sd_notify.h"
#include "contract.h"
#include "convert.h"
#include "explain_js.h"
#include "guard.h"

namespace las {

class DataplaneWrap : public Napi::ObjectWrap<DataplaneWrap> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "Dataplane",
                       {InstanceMethod<&DataplaneWrap::Start>("start"), InstanceMethod<&DataplaneWrap::Stop>("stop"),
                        InstanceMethod<&DataplaneWrap::SetSnapshot>("setSnapshot"),
                        InstanceMethod<&DataplaneWrap::SetFilter>("setFilter"),
                        InstanceMethod<&DataplaneWrap::Stats>("stats"),
                        InstanceMethod<&DataplaneWrap::Explain>("explain"),
                        InstanceMethod<&DataplaneWrap::SetTrace>("setTrace"),
                        InstanceMethod<&DataplaneWrap::DrainTrace>("drainTrace"),
                        InstanceMethod<&DataplaneWrap::SetActive>("setActive"),
                        InstanceMethod<&DataplaneWrap::Announce>("announce"),
                        InstanceAccessor<&DataplaneWrap::Id>("id")});
  }

  explicit DataplaneWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<DataplaneWrap>(info) {
    Napi::Env env = info.Env();
    DataplaneConfig cfg = options_from_js(env, info[0]);
    std::vector<ServiceSpec> services = snapshot_from_js(env, info[1]);
    dp_.reset(guarded(env, [&] { return new Dataplane(std::move(cfg), std::move(services)); }));
  }

 private:
  // Returns what became of each worker's flow file (flow_file.h), [] when tables are not kept in files.
  Napi::Value Start(const Napi::CallbackInfo& info) {
    guarded(info.Env(), [&] { dp_->start(); });
    return flow_files_to_js(info.Env(), dp_->flow_files());
  }
  Napi::Value Stop(const Napi::CallbackInfo& info) {
    dp_->stop();
    return info.Env().Undefined();
  }
  Napi::Value SetSnapshot(const Napi::CallbackInfo& info) {
    std::vector<ServiceSpec> services = snapshot_from_js(info.Env(), info[0]);
    uint32_t second_chance_ms = second_chance_from_js(info.Env(), info[0]);
    guarded(info.Env(), [&] { dp_->publish(std::move(services), second_chance_ms); });
    return info.Env().Undefined();
  }
  Napi::Value SetFilter(const Napi::CallbackInfo& info) {
    std::vector<sock_filter> filter = filter_from_js(info.Env(), info[0], "filter");
    guarded(info.Env(), [&] { dp_->set_filter(std::move(filter)); });
    return info.Env().Undefined();
  }
  Napi::Value Stats(const Napi::CallbackInfo& info) { return stats_to_js(info.Env(), dp_->stats()); }
  // filters: Uint32Array of 26-word records [vip, port (-1 any), proto, client, clientMask, server,
  // verdicts, reason (DROP_REASONS index, -1 any), sample, family (0, 4 or 6), then four big-endian
  // words each of vip6, client6, client6Mask, server6]; empty: tracing off.
  Napi::Value SetTrace(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!info[0].IsTypedArray()) throw Napi::TypeError::New(env, "setTrace(filters: Uint32Array)");
    Napi::Uint32Array w = info[0].As<Napi::Uint32Array>();
    constexpr size_t kWords = 26;
    if (w.ElementLength() % kWords != 0) throw Napi::TypeError::New(env, "setTrace: 26 words per filter");
    std::vector<TraceFilter> filters;
    for (size_t i = 0; i + kWords <= w.ElementLength(); i += kWords) {
      TraceFilter f;
      f.vip = w[i];
      f.port = static_cast<int32_t>(w[i + 1]);
      f.proto = static_cast<uint8_t>(w[i + 2]);
      f.client = w[i + 3];
      f.client_mask = w[i + 4];
      f.client &= f.client_mask;
      f.server = w[i + 5];
      f.verdicts = static_cast<uint8_t>(w[i + 6]);
      int32_t reason = static_cast<int32_t>(w[i + 7]);
      f.reason = reason >= 0 && reason < kDropReasonCount ? static_cast<DropReason>(reason) : DropReason::Count;
      f.sample = w[i + 8] ? w[i + 8] : 1;
      f.family = static_cast<uint8_t>(w[i + 9] == 4 || w[i + 9] == 6 ? w[i + 9] : 0);
      uint8_t* v6[] = {f.vip6, f.client6, f.client6_mask, f.server6};
      for (size_t a = 0; a < 4; ++a)
        for (size_t k = 0; k < 4; ++k) store_be32(v6[a] + 4 * k, w[i + 10 + 4 * a + k]);
      for (int k = 0; k < 16; ++k) f.client6[k] &= f.client6_mask[k];
      filters.push_back(f);
    }
    guarded(env, [&] { dp_->set_trace(filters); });
    return env.Undefined();
  }
  // {records: ArrayBuffer of 84-byte TraceRecords (native/io/trace.h), lost: per worker, in total}.
  Napi::Value DrainTrace(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    uint32_t max = info[0].IsNumber() ? info[0].As<Napi::Number>().Uint32Value() : TraceRing::kCapacity;
    Dataplane::TraceDrain d = dp_->drain_trace(max);
    Napi::Object out = Napi::Object::New(env);
    Napi::ArrayBuffer buf = Napi::ArrayBuffer::New(env, d.records.size() * sizeof(TraceRecord));
    if (!d.records.empty()) std::memcpy(buf.Data(), d.records.data(), d.records.size() * sizeof(TraceRecord));
    out.Set("records", buf);
    Napi::Array lost = Napi::Array::New(env, d.lost.size());
    for (size_t i = 0; i < d.lost.size(); ++i) lost.Set(static_cast<uint32_t>(i), Napi::Number::New(env, static_cast<double>(d.lost[i])));
    out.Set("lost", lost);
    return out;
  }
  // HA role (ha.mode "vrrp"): false makes the I/O threads ignore VIP frames and ARP from their next block.
  Napi::Value SetActive(const Napi::CallbackInfo& info) {
    dp_->set_active(info[0].ToBoolean().Value());
    return info.Env().Undefined();
  }
  // One gratuitous ARP per VIP of the current snapshot.
  Napi::Value Announce(const Napi::CallbackInfo& info) {
    dp_->announce_all();
    return info.Env().Undefined();
  }
  Napi::Value Id(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), dp_->id()); }

  // explain(tuples, timeoutMs): a Promise. The I/O threads answer between batches (up to one poll
  // period, 100 ms, when idle), so the wait runs on libuv's pool, never on the JavaScript thread.
  class ExplainWork : public Napi::AsyncWorker {
   public:
    ExplainWork(Napi::Env env, Napi::Object self, Dataplane* dp, std::vector<ExplainTuple> tuples, uint32_t timeout_ms)
        : Napi::AsyncWorker(env), deferred_(Napi::Promise::Deferred::New(env)), self_(Napi::Persistent(self)), dp_(dp),
          tuples_(std::move(tuples)), timeout_ms_(timeout_ms) {}
    Napi::Promise promise() { return deferred_.Promise(); }
    void Execute() override {
      try {
        answers_ = dp_->explain(tuples_, timeout_ms_);
      } catch (const std::exception& e) {
        SetError(e.what());
      }
    }
    void OnOK() override { deferred_.Resolve(explanations_to_js(Env(), answers_)); }
    void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

   private:
    Napi::Promise::Deferred deferred_;
    Napi::ObjectReference self_;  // keeps the Dataplane alive while its threads answer
    Dataplane* dp_;
    std::vector<ExplainTuple> tuples_;
    uint32_t timeout_ms_;
    std::vector<Explanation> answers_;
  };
  Napi::Value Explain(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    std::vector<ExplainTuple> tuples = tuples_from_js(env, info[0]);
    uint32_t timeout_ms = info[1].IsNumber() ? info[1].As<Napi::Number>().Uint32Value() : 2000;
    auto* work = new ExplainWork(env, info.This().As<Napi::Object>(), dp_.get(), std::move(tuples), timeout_ms);
    Napi::Promise p = work->promise();
    work->Queue();
    return p;
  }

  std::unique_ptr<Dataplane> dp_;
};

class LasAddon : public Napi::Addon<LasAddon> {
 public:
  LasAddon(Napi::Env env, Napi::Object exports) {
    DefineAddon(exports, {InstanceValue("Dataplane", DataplaneWrap::Define(env), napi_enumerable),
                          InstanceMethod<&LasAddon::MaglevTable>("maglevTable", napi_enumerable),
                          InstanceMethod<&LasAddon::ExplainFlows>("explainFlows", napi_enumerable),
                          InstanceMethod<&LasAddon::InterfaceMac>("interfaceMac", napi_enumerable),
                          InstanceMethod<&LasAddon::InterfaceMtu>("interfaceMtu", napi_enumerable),
                          InstanceMethod<&LasAddon::RingNeeds>("ringNeeds", napi_enumerable),
                          InstanceMethod<&LasAddon::FlowTableViews>("flowTableViews", napi_enumerable),
                          InstanceMethod<&LasAddon::ExpireFlows>("expireFlows", napi_enumerable),
                          InstanceMethod<&LasAddon::FlowTableViews6>("flowTableViews6", napi_enumerable),
                          InstanceMethod<&LasAddon::ExpireFlows6>("expireFlows6", napi_enumerable),
                          InstanceMethod<&LasAddon::ServerIdentity6>("serverIdentity6", napi_enumerable),
                          InstanceMethod<&LasAddon::MonotonicMs>("monotonicMs", napi_enumerable),
                          InstanceMethod<&LasAddon::DropCapabilities>("dropCapabilities", napi_enumerable),
                          InstanceMethod<&LasAddon::EffectiveCapabilities>("effectiveCapabilities", napi_enumerable),
                          InstanceMethod<&LasAddon::ClearChildCapabilities>("clearChildCapabilities", napi_enumerable),
                          InstanceMethod<&LasAddon::SdNotify>("sdNotify", napi_enumerable)});
    export_contract(env, exports);
  }

 private:
  Napi::Value MaglevTable(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Napi::Array list = info[0].As<Napi::Array>();
    uint32_t size = info[1].As<Napi::Number>().Uint32Value();
    if (!is_prime(size)) throw Napi::RangeError::New(env, "maglev table size must be prime");
    std::vector<MaglevServer> servers;
    for (uint32_t i = 0; i < list.Length(); ++i) {
      Napi::Object s = list.Get(i).As<Napi::Object>();
      servers.push_back({parse_ipv4(env, s.Get("address").ToString().Utf8Value(), "address"),
                         s.Get("weight").As<Napi::Number>().Uint32Value()});
    }
    std::vector<uint16_t> table = build_maglev_table(servers, size);
    Napi::Int32Array out = Napi::Int32Array::New(env, table.size());
    for (size_t i = 0; i < table.size(); ++i) out[i] = table[i] == kNoServer ? -1 : table[i];
    return out;
  }

  Napi::Value ExplainFlows(const Napi::CallbackInfo& info) { return explain_offline(info); }

  static Dataplane* dataplane_arg(const Napi::CallbackInfo& info) {
    Dataplane* dp = Dataplane::find(info[0].As<Napi::Number>().Uint32Value());
    if (!dp) throw Napi::Error::New(info.Env(), "no dataplane with that id in this process");
    return dp;
  }

  // Read-only windows on each worker's flow table, usable from any thread's JavaScript context.
  // The entries are written concurrently by the I/O thread: readers must tolerate a torn entry.
  Napi::Value FlowTableViews(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Dataplane* dp = dataplane_arg(info);
    Napi::Array out = Napi::Array::New(env);
    for (uint32_t w = 0; w < dp->worker_count(); ++w) {
      const FlowTable* table = dp->flow_table(w);
      if (!table) continue;
      Napi::Object view = Napi::Object::New(env);
      auto* data = const_cast<FlowEntry*>(table->data());
      view.Set("worker", w);
      view.Set("slots", table->slots());
      view.Set("buffer", Napi::ArrayBuffer::New(env, data, static_cast<size_t>(table->slots()) * sizeof(FlowEntry)));
      out.Set(out.Length(), view);
    }
    return out;
  }

  // commands: Uint32Array of 5-word records [src, dst, sport << 16 | dport, proto, lastSeenMs].
  Napi::Value ExpireFlows(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Dataplane* dp = dataplane_arg(info);
    uint32_t worker = info[1].As<Napi::Number>().Uint32Value();
    Napi::Uint32Array words = info[2].As<Napi::Uint32Array>();
    std::vector<ExpireCommand> cmds;
    for (size_t i = 0; i + 5 <= words.ElementLength(); i += 5) {
      ExpireCommand c{};
      c.key = FlowKeyFields{words[i], words[i + 1], static_cast<uint16_t>(words[i + 2] >> 16),
                            static_cast<uint16_t>(words[i + 2] & 0xffff), static_cast<uint8_t>(words[i + 3])};
      c.last_seen_ms = words[i + 4];
      cmds.push_back(c);
    }
    return Napi::Number::New(env, dp->expire(worker, cmds.data(), static_cast<uint32_t>(cmds.size())));
  }

  // The same windows on the v6 tables (FlowEntry6 slots).
  Napi::Value FlowTableViews6(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Dataplane* dp = dataplane_arg(info);
    Napi::Array out = Napi::Array::New(env);
    for (uint32_t w = 0; w < dp->worker_count(); ++w) {
      const FlowTable6* table = dp->flow_table6(w);
      if (!table) continue;
      Napi::Object view = Napi::Object::New(env);
      auto* data = const_cast<FlowEntry6*>(table->data());
      view.Set("worker", w);
      view.Set("slots", table->slots());
      view.Set("buffer", Napi::ArrayBuffer::New(env, data, static_cast<size_t>(table->slots()) * sizeof(FlowEntry6)));
      out.Set(out.Length(), view);
    }
    return out;
  }

  // commands: Uint32Array of 11-word records [src x4, dst x4, sport << 16 | dport, proto, lastSeenMs];
  // the address words are the entry's bytes read as native-order words, copied back unchanged.
  Napi::Value ExpireFlows6(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Dataplane* dp = dataplane_arg(info);
    uint32_t worker = info[1].As<Napi::Number>().Uint32Value();
    Napi::Uint32Array words = info[2].As<Napi::Uint32Array>();
    const uint32_t* w = words.Data();
    std::vector<ExpireCommand6> cmds;
    for (size_t i = 0; i + 11 <= words.ElementLength(); i += 11) {
      ExpireCommand6 c{};
      std::memcpy(c.key.src, w + i, 16);
      std::memcpy(c.key.dst, w + i + 4, 16);
      c.key.sport = static_cast<uint16_t>(w[i + 8] >> 16);
      c.key.dport = static_cast<uint16_t>(w[i + 8] & 0xffff);
      c.key.proto = static_cast<uint8_t>(w[i + 9]);
      c.last_seen_ms = w[i + 10];
      cmds.push_back(c);
    }
    return Napi::Number::New(env, dp->expire6(worker, cmds.data(), static_cast<uint32_t>(cmds.size())));
  }

  // The 32-bit identity a v6 server has in flow entries (server_identity6), from its 16 bytes.
  Napi::Value ServerIdentity6(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!info[0].IsTypedArray() || info[0].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array ||
        info[0].As<Napi::Uint8Array>().ElementLength() != 16)
      throw Napi::TypeError::New(env, "serverIdentity6(address: Uint8Array of 16 bytes)");
    return Napi::Number::New(env, server_identity6(info[0].As<Napi::Uint8Array>().Data()));
  }

  // The clock flow entries are stamped with (CLOCK_MONOTONIC_COARSE, milliseconds, 32-bit).
  Napi::Value MonotonicMs(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), monotonic_ms()); }

  // names: "net_raw", "net_admin" (the only ones LAS itself uses). Every thread of the process.
  Napi::Value DropCapabilities(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!info[0].IsArray()) throw Napi::TypeError::New(env, "dropCapabilities(names: string[])");
    Napi::Array names = info[0].As<Napi::Array>();
    uint64_t mask = 0;
    for (uint32_t i = 0; i < names.Length(); ++i) {
      std::string name = names.Get(i).ToString().Utf8Value();
      if (name == "net_raw") mask |= uint64_t{1} << kCapNetRaw;
      else if (name == "net_admin") mask |= uint64_t{1} << kCapNetAdmin;
      else throw Napi::RangeError::New(env, "unknown capability \"" + name + "\" (net_raw, net_admin)");
    }
    CapDropResult r = guarded(env, [&] { return drop_capabilities(mask); });
    Napi::Object out = Napi::Object::New(env);
    out.Set("threads", r.changed);
    Napi::Array kept = Napi::Array::New(env, r.kept.size());
    for (size_t i = 0; i < r.kept.size(); ++i) kept.Set(static_cast<uint32_t>(i), r.kept[i]);
    out.Set("keptBy", kept);
    return out;
  }

  // sdNotify(socketPath, message): one datagram to systemd's notify socket (sd_notify(3)).
  Napi::Value SdNotify(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!info[0].IsString() || !info[1].IsString()) throw Napi::TypeError::New(env, "sdNotify(socketPath: string, message: string)");
    guarded(env, [&] { sd_notify_send(info[0].As<Napi::String>().Utf8Value(), info[1].As<Napi::String>().Utf8Value()); });
    return env.Undefined();
  }

  Napi::Value ClearChildCapabilities(const Napi::CallbackInfo& info) {
    guarded(info.Env(), [] { clear_child_capabilities(); });
    return info.Env().Undefined();
  }

  // The calling thread's effective capabilities (bit per capability) as a BigInt.
  Napi::Value EffectiveCapabilities(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    return Napi::BigInt::New(env, guarded(env, [&] { return effective_capabilities(); }));
  }

  Napi::Value InterfaceMac(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    return Napi::String::New(env, guarded(env, [&] { return format_mac(interface_mac(info[0].ToString().Utf8Value())); }));
  }

  // The smallest ring.blockSize and ring.frameSize for an interface MTU, as the daemon checks them.
  Napi::Value RingNeeds(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!info[0].IsNumber()) throw Napi::TypeError::New(env, "ringNeeds(mtu: number)");
    uint32_t mtu = info[0].As<Napi::Number>().Uint32Value();
    Napi::Object o = Napi::Object::New(env);
    o.Set("blockSize", min_rx_block_size(mtu));
    o.Set("frameSize", tx_slot_size_for_mtu(mtu));
    return o;
  }

  Napi::Value InterfaceMtu(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    return Napi::Number::New(env, guarded(env, [&] { return interface_mtu(info[0].ToString().Utf8Value()); }));
  }
};

}  // namespace las

using las::LasAddon;
NODE_API_ADDON(LasAddon)
