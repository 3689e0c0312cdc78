// N-API entry of las_bench: the tools that stand beside the product, built from the same core
// sources as the daemon's addon (las_native) and never loaded by the daemon. The socket-free
// Classifier, sendFrames (raw frames out of an interface), the pass-through dataplane (the
// benchmark's baseline), and the traffic generator, sink and micro-benchmarks (bench_bindings.cc).
#include <napi.h>

#include <memory>
#include <string>
#include <vector>

#include "../bench/frame_sender.h"
#include "../bench/pass_through.h"
#include "../io/dataplane.h"
#include "bench_bindings.h"
#include "classifier_wrap.h"
#include "convert.h"
#include "guard.h"

namespace las {

namespace {

// The product's Dataplane with pass-through workers: same options, start/stop/stats.
class PassThroughWrap : public Napi::ObjectWrap<PassThroughWrap> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "PassThroughDataplane",
                       {InstanceMethod<&PassThroughWrap::Start>("start"), InstanceMethod<&PassThroughWrap::Stop>("stop"),
                        InstanceMethod<&PassThroughWrap::Stats>("stats")});
  }

  explicit PassThroughWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<PassThroughWrap>(info) {
    Napi::Env env = info.Env();
    DataplaneConfig cfg = options_from_js(env, info[0]);
    std::vector<ServiceSpec> services = snapshot_from_js(env, info[1]);
    dp_.reset(new Dataplane(std::move(cfg), std::move(services), bench::make_pass_through_worker));
  }

 private:
  Napi::Value Start(const Napi::CallbackInfo& info) {
    guarded(info.Env(), [&] { dp_->start(); });
    return info.Env().Undefined();
  }
  Napi::Value Stop(const Napi::CallbackInfo& info) {
    dp_->stop();
    return info.Env().Undefined();
  }
  Napi::Value Stats(const Napi::CallbackInfo& info) { return stats_to_js(info.Env(), dp_->stats()); }

  std::unique_ptr<Dataplane> dp_;
};

Napi::Value SendFrames(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsString() || !info[1].IsArray()) throw Napi::TypeError::New(env, "sendFrames(ifname: string, frames: Buffer[])");
  std::string ifname = info[0].As<Napi::String>().Utf8Value();
  Napi::Array list = info[1].As<Napi::Array>();
  std::vector<FrameView> frames;
  for (uint32_t i = 0; i < list.Length(); ++i) {
    Napi::Value b = list.Get(i);
    if (!b.IsBuffer()) throw Napi::TypeError::New(env, "frames[" + std::to_string(i) + "] must be a Buffer");
    auto buf = b.As<Napi::Buffer<uint8_t>>();
    frames.push_back({buf.Data(), static_cast<uint32_t>(buf.Length())});
  }
  return Napi::Number::New(env, guarded(env, [&] { return send_frames(ifname, frames); }));
}

}  // namespace

class LasBenchAddon : public Napi::Addon<LasBenchAddon> {
 public:
  LasBenchAddon(Napi::Env env, Napi::Object exports) {
    exports.Set("Classifier", define_classifier(env));
    exports.Set("PassThroughDataplane", PassThroughWrap::Define(env));
    exports.Set("sendFrames", Napi::Function::New<SendFrames>(env, "sendFrames"));
    register_bench_bindings(env, exports);
  }
};

}  // namespace las

using las::LasBenchAddon;
NODE_API_ADDON(LasBenchAddon)
