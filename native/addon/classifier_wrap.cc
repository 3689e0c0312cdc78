#include "classifier_wrap.h"

#include <cstring>
#include <memory>

#include "../dataplane/classify.h"
#include "../dataplane/fanout.h"
#include "convert.h"

namespace las {

namespace {

class ClassifierWrap : public Napi::ObjectWrap<ClassifierWrap> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "Classifier",
                       {InstanceMethod<&ClassifierWrap::Classify>("classify"),
                        InstanceMethod<&ClassifierWrap::WorkerFor>("workerFor"),
                        InstanceMethod<&ClassifierWrap::SetSnapshot>("setSnapshot"),
                        InstanceMethod<&ClassifierWrap::FlowCount>("flowCount"),
                        InstanceMethod<&ClassifierWrap::Counters>("counters"),
                        InstanceMethod<&ClassifierWrap::Stats>("stats")});
  }

  explicit ClassifierWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<ClassifierWrap>(info) {
    Napi::Env env = info.Env();
    if (!info[0].IsObject()) throw Napi::TypeError::New(env, "options must be an object");
    Napi::Object o = info[0].As<Napi::Object>();
    uint32_t capacity = o.Get("flowCapacity").As<Napi::Number>().Uint32Value();
    uint32_t idle = o.Get("flowIdleTimeoutMs").As<Napi::Number>().Uint32Value();
    Napi::Value v6 = o.Get("flowCapacityV6");  // optional, as for the Dataplane
    uint32_t capacity6 = v6.IsNumber() ? v6.As<Napi::Number>().Uint32Value() : 0;
    state_.reset(new WorkerState(capacity ? capacity : 1024, idle, 0, capacity6));
    state_->ingress_mac = parse_mac(env, o.Get("ingressMac").ToString().Utf8Value(), "options.ingressMac");
    state_->egress_mac = parse_mac(env, o.Get("egressMac").ToString().Utf8Value(), "options.egressMac");
    install(snapshot_from_js(env, info[1]));
  }

 private:
  // now_ms: the flow clock of the swap, where a second-chance window (secondChanceMs) starts.
  void install(std::vector<ServiceSpec> services, uint32_t second_chance_ms = 0, uint32_t now_ms = 0) {
    std::unique_ptr<Snapshot> next(new Snapshot(std::move(services), 1, ++generation_));
    if (snap_) next->keep_previous(*snap_, now_ms, second_chance_ms);
    snap_ = std::move(next);
    state_->adopt(*snap_);
  }

  // setSnapshot(snapshot, nowMs?)
  Napi::Value SetSnapshot(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    std::vector<ServiceSpec> services = snapshot_from_js(env, info[0]);
    uint32_t now = info[1].IsNumber() ? info[1].As<Napi::Number>().Uint32Value() : 0;
    install(std::move(services), second_chance_from_js(env, info[0]), now);
    return env.Undefined();
  }

  Napi::Value Classify(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!info[0].IsBuffer()) throw Napi::TypeError::New(env, "classify(frame: Buffer, nowMs: number)");
    Napi::Buffer<uint8_t> in = info[0].As<Napi::Buffer<uint8_t>>();
    uint32_t now = info[1].As<Napi::Number>().Uint32Value();
    // Work on a copy: the caller's golden input frame must stay as it was.
    Napi::Buffer<uint8_t> frame = Napi::Buffer<uint8_t>::Copy(env, in.Data(), in.Length());
    Decision d = classify(frame.Data(), static_cast<uint32_t>(frame.Length()), *snap_, *state_, now);
    state_->counters.flows_active.set(state_->flow_count());
    Napi::Object v = Napi::Object::New(env);
    switch (d.action) {
      case Action::Forward:
        v.Set("action", "forward");
        v.Set("service", d.service);
        v.Set("server", d.server);
        v.Set("frame", frame);
        break;
      case Action::ArpReply:
        v.Set("action", "arp_reply");
        v.Set("frame", frame);
        break;
      case Action::NdpReply:
        v.Set("action", "ndp_reply");
        v.Set("frame", Napi::Buffer<uint8_t>::Copy(env, state_->reply, state_->reply_len));
        break;
      case Action::Drop:
        v.Set("action", "drop");
        v.Set("reason", drop_reason_name(d.reason));
        break;
      case Action::Pass:
        v.Set("action", "pass");
        break;
    }
    return v;
  }

  // The worker (of `workers`) that owns this frame's flow, as the running workers check it against the
  // kernel's fanout choice; -1 for a frame that is not a flow packet of a service.
  Napi::Value WorkerFor(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!info[0].IsBuffer() || !info[1].IsNumber()) throw Napi::TypeError::New(env, "workerFor(frame: Buffer, workers: number)");
    Napi::Buffer<uint8_t> frame = info[0].As<Napi::Buffer<uint8_t>>();
    uint32_t workers = info[1].As<Napi::Number>().Uint32Value();
    if (workers == 0) throw Napi::RangeError::New(env, "workers must be at least 1");
    Prepared pr;
    prepare(frame.Data(), static_cast<uint32_t>(frame.Length()), *snap_, *state_, pr);
    if (pr.service < 0 || pr.reason != DropReason::Count) return Napi::Number::New(env, -1);
    return Napi::Number::New(env, fanout_hash(pr, *snap_) % workers);
  }

  Napi::Value FlowCount(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), state_->flow_count()); }
  Napi::Value Counters(const Napi::CallbackInfo& info) {
    return worker_counters_to_js(info.Env(), state_->counters.read());
  }
  // The counters of the current snapshot in the Dataplane's stats() shape (one worker).
  Napi::Value Stats(const Napi::CallbackInfo& info) {
    DataplaneStats out;
    out.workers.push_back(state_->counters.read());
    const WorkerServiceBlock& block = snap_->counters[0];
    for (size_t si = 0; si < snap_->services.size(); ++si) {
      const Service& svc = snap_->services[si];
      const ServiceCounters& sc = block.services[si];
      ServiceStats ss{svc.spec.vip, svc.spec.port, svc.spec.proto,
                      {sc.packets.get(), sc.bytes.get(), sc.new_flows.get(), sc.no_server.get()}, {}};
      ss.family = svc.spec.family;
      std::memcpy(ss.vip6.data(), svc.spec.vip6, 16);
      for (size_t r = 0; r < svc.spec.servers.size(); ++r) {
        const ServerCounters& rc = block.servers[svc.first_server + r];
        ServerTotals t;
        t.packets = rc.packets.get();
        t.bytes = rc.bytes.get();
        t.new_flows = rc.new_flows.get();
        t.active_flows = state_->load.get(svc.spec.servers[r].addr);
        ss.servers.push_back({svc.spec.servers[r].addr, t});
        ss.servers6.emplace_back();
        std::memcpy(ss.servers6.back().data(), svc.spec.servers[r].addr6, 16);
      }
      out.services.push_back(std::move(ss));
    }
    return stats_to_js(info.Env(), out);
  }

  std::unique_ptr<WorkerState> state_;
  std::unique_ptr<Snapshot> snap_;
  uint64_t generation_ = 0;
};

}  // namespace

Napi::Function define_classifier(Napi::Env env) { return ClassifierWrap::Define(env); }

}  // namespace las
