// Benchmark-only bindings: the traffic generator (runGenerator, generatorFrames), the Sink and the
// micro-benchmarks. Nothing here is kept in statics: every environment gets its own functions and
// class, and each generator run owns its thread and promise.
#include "bench_bindings.h"

#include "guard.h"

#include <arpa/inet.h>
#include <pthread.h>

#include <atomic>
#include <cmath>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>

#include "../bench/generator.h"
#include "../bench/microbench.h"
#include "../bench/sink.h"
#include "convert.h"

namespace las {

namespace {

// ---- option helpers: errors name the option ----

Napi::Object options_object(Napi::Env env, const Napi::Value& v, const char* fn) {
  if (!v.IsObject()) throw Napi::TypeError::New(env, std::string(fn) + ": options must be an object");
  return v.As<Napi::Object>();
}

// An integer option in [min, max]; `def` when undefined, or required when def is NaN.
double int_option(Napi::Env env, const Napi::Object& o, const char* key, double def, double min, double max) {
  Napi::Value v = o.Get(key);
  if (v.IsUndefined()) {
    if (std::isnan(def)) throw Napi::TypeError::New(env, std::string("options.") + key + " is required");
    return def;
  }
  if (!v.IsNumber()) throw Napi::TypeError::New(env, std::string("options.") + key + " must be a number");
  double d = v.As<Napi::Number>().DoubleValue();
  if (!(d >= min && d <= max) || d != std::floor(d))
    throw Napi::RangeError::New(env, std::string("options.") + key + " must be an integer from " +
                                         std::to_string(static_cast<int64_t>(min)) + " to " +
                                         std::to_string(static_cast<int64_t>(max)));
  return d;
}

std::string string_option(Napi::Env env, const Napi::Object& o, const char* key) {
  Napi::Value v = o.Get(key);
  if (!v.IsString()) throw Napi::TypeError::New(env, std::string("options.") + key + " must be a string");
  return v.As<Napi::String>().Utf8Value();
}

constexpr double kMaxSafe = 9007199254740991.0;  // Number.MAX_SAFE_INTEGER
const double kRequired = std::nan("");

bench::GeneratorConfig generator_config(Napi::Env env, const Napi::Value& value) {
  Napi::Object o = options_object(env, value, "runGenerator");
  bench::GeneratorConfig c;
  c.ifname = string_option(env, o, "interface");
  if (!o.Get("srcMac").IsUndefined()) {
    c.src_mac = parse_mac(env, string_option(env, o, "srcMac"), "options.srcMac");
    c.src_mac_set = true;
  }
  c.dst_mac = parse_mac(env, string_option(env, o, "dstMac"), "options.dstMac");
  // An IPv6 dstIp makes IPv6 frames; srcPrefix6 (default 2001:db8:1::) gives the source's first 96 bits.
  const std::string dst = string_option(env, o, "dstIp");
  if (dst.find(':') != std::string::npos) {
    c.ipv6 = true;
    if (inet_pton(AF_INET6, dst.c_str(), c.dst_ip6) != 1) throw Napi::TypeError::New(env, "options.dstIp: \"" + dst + "\" is not an IPv4 or IPv6 address");
    const std::string prefix = o.Get("srcPrefix6").IsUndefined() ? "2001:db8:1::" : string_option(env, o, "srcPrefix6");
    if (inet_pton(AF_INET6, prefix.c_str(), c.src_prefix6) != 1) throw Napi::TypeError::New(env, "options.srcPrefix6: \"" + prefix + "\" is not an IPv6 address");
  } else {
    c.dst_ip = parse_ipv4(env, dst, "options.dstIp");
  }
  c.dst_port = static_cast<uint16_t>(int_option(env, o, "dstPort", kRequired, 0, 65535));
  c.src_ip_min = parse_ipv4(env, string_option(env, o, "srcIpMin"), "options.srcIpMin");
  c.src_ip_max = parse_ipv4(env, string_option(env, o, "srcIpMax"), "options.srcIpMax");
  c.src_port_min = static_cast<uint16_t>(int_option(env, o, "srcPortMin", 1024, 0, 65535));
  c.src_port_max = static_cast<uint16_t>(int_option(env, o, "srcPortMax", 65535, 0, 65535));
  c.flows = static_cast<uint32_t>(int_option(env, o, "flows", 0, 0, 4294967295.0));
  c.packet_size = static_cast<uint32_t>(int_option(env, o, "packetSize", 60, 0, 65535));
  Napi::Value kind = o.Get("kind");
  std::string k = kind.IsUndefined() ? "udp" : string_option(env, o, "kind");
  if (k == "udp") c.kind = bench::GenKind::Udp;
  else if (k == "tcp-syn") c.kind = bench::GenKind::TcpSyn;
  else if (k == "tcp-ack") c.kind = bench::GenKind::TcpAck;
  else throw Napi::TypeError::New(env, "options.kind must be \"udp\", \"tcp-syn\" or \"tcp-ack\"");
  c.rate_pps = static_cast<uint64_t>(int_option(env, o, "ratePps", 0, 0, kMaxSafe));
  c.count = static_cast<uint64_t>(int_option(env, o, "count", 0, 0, kMaxSafe));
  c.duration_ms = static_cast<uint64_t>(int_option(env, o, "durationMs", 0, 0, kMaxSafe));
  c.burst = static_cast<uint32_t>(int_option(env, o, "burst", 32, 1, 1024));
  c.cpu = static_cast<int>(int_option(env, o, "cpu", -1, -1, CPU_SETSIZE - 1));
  c.ring_frames = static_cast<uint32_t>(int_option(env, o, "ringFrames", 4096, 2, 1 << 20));
  c.seed = static_cast<uint64_t>(int_option(env, o, "seed", 0, 0, kMaxSafe));
  return c;
}

// ---- runGenerator: own std::thread, result delivered through a thread-safe function ----

struct GeneratorJob;
void generator_done(Napi::Env env, Napi::Function, GeneratorJob* job, void*);
using GeneratorTsfn = Napi::TypedThreadSafeFunction<GeneratorJob, void, generator_done>;

struct GeneratorJob {
  explicit GeneratorJob(Napi::Env env, bench::GeneratorConfig c) : cfg(std::move(c)), deferred(env) {}
  bench::GeneratorConfig cfg;
  Napi::Promise::Deferred deferred;
  GeneratorTsfn tsfn;
  std::thread thread;
  std::atomic<bool> stop{false};  // set when the environment goes away mid-run
  bench::GeneratorResult result;
  std::string error;
  bool range_error = false;
  bool failed = false;
};

void generator_done(Napi::Env env, Napi::Function, GeneratorJob* job, void*) {
  if (env == nullptr) return;  // the environment is shutting down: nobody is waiting
  if (job->failed) {
    Napi::Error e = job->range_error ? Napi::RangeError::New(env, job->error) : Napi::Error::New(env, job->error);
    job->deferred.Reject(e.Value());
    return;
  }
  Napi::Object r = Napi::Object::New(env);
  r.Set("sent", Napi::BigInt::New(env, job->result.sent));
  r.Set("errors", Napi::BigInt::New(env, job->result.errors));
  r.Set("ringFull", Napi::BigInt::New(env, job->result.ring_full));
  r.Set("elapsedNs", Napi::BigInt::New(env, job->result.elapsed_ns));
  job->deferred.Resolve(r);
}

Napi::Value RunGenerator(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::unique_ptr<GeneratorJob> job;
  try {
    bench::GeneratorConfig cfg = generator_config(env, info[0]);
    guarded(env, [&] { bench::validate(cfg); });
    job.reset(new GeneratorJob(env, std::move(cfg)));
  } catch (const Napi::Error& e) {
    Napi::Promise::Deferred d(env);
    d.Reject(e.Value());
    return d.Promise();
  }
  GeneratorJob* j = job.release();  // owned by the thread-safe function from here on
  Napi::Promise promise = j->deferred.Promise();
  // The finalizer runs on this thread after the run's Release(), or at environment teardown: either
  // way it stops and joins the thread before freeing the job.
  j->tsfn = GeneratorTsfn::New(env, "las.runGenerator", 0, 1, j, [](Napi::Env, void*, GeneratorJob* job) {
    job->stop.store(true, std::memory_order_relaxed);
    if (job->thread.joinable()) job->thread.join();
    delete job;
  });
  j->thread = std::thread([j] {
    pthread_setname_np(pthread_self(), "las-gen");
    try {
      j->result = bench::run_generator(j->cfg, j->stop);
    } catch (const std::invalid_argument& e) {
      j->failed = j->range_error = true;
      j->error = e.what();
    } catch (const std::exception& e) {
      j->failed = true;
      j->error = e.what();
    }
    j->tsfn.BlockingCall();
    j->tsfn.Release();
  });
  return promise;
}

Napi::Value GeneratorFrames(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  bench::GeneratorConfig cfg = generator_config(env, info[0]);
  if (!info[1].IsNumber()) throw Napi::TypeError::New(env, "generatorFrames(options, count: number)");
  double n = info[1].As<Napi::Number>().DoubleValue();
  if (!(n >= 0 && n <= 65536) || n != std::floor(n)) throw Napi::RangeError::New(env, "count must be from 0 to 65536");
  auto frames = guarded(env, [&] { return bench::preview_frames(cfg, static_cast<uint32_t>(n)); });
  Napi::Array out = Napi::Array::New(env, frames.size());
  for (size_t i = 0; i < frames.size(); ++i)
    out.Set(static_cast<uint32_t>(i), Napi::Buffer<uint8_t>::Copy(env, frames[i].data(), frames[i].size()));
  return out;
}

// ---- Sink ----

class SinkWrap : public Napi::ObjectWrap<SinkWrap> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "Sink",
                       {InstanceMethod<&SinkWrap::Start>("start"), InstanceMethod<&SinkWrap::Stop>("stop"),
                        InstanceMethod<&SinkWrap::Counts>("counts"), InstanceMethod<&SinkWrap::Frames>("frames")});
  }

  explicit SinkWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<SinkWrap>(info) {
    Napi::Env env = info.Env();
    if (!info[0].IsString()) throw Napi::TypeError::New(env, "new Sink(ifname: string, options?)");
    bench::SinkOptions opt;
    if (info.Length() > 1 && !info[1].IsUndefined()) {
      Napi::Object o = options_object(env, info[1], "Sink");
      opt.block_size = static_cast<uint32_t>(int_option(env, o, "blockSize", opt.block_size, 4096, 1 << 30));
      opt.block_count = static_cast<uint32_t>(int_option(env, o, "blockCount", opt.block_count, 2, 4096));
      opt.retire_timeout_ms = static_cast<uint32_t>(int_option(env, o, "retireTimeoutMs", opt.retire_timeout_ms, 1, 1000));
      opt.keep_frames = static_cast<uint32_t>(int_option(env, o, "keepFrames", 0, 0, bench::Sink::kMaxKeptFrames));
    }
    sink_.reset(new bench::Sink(info[0].As<Napi::String>().Utf8Value(), opt));
  }

 private:
  Napi::Value Start(const Napi::CallbackInfo& info) {
    guarded(info.Env(), [&] { sink_->start(); });
    return info.Env().Undefined();
  }
  Napi::Value Stop(const Napi::CallbackInfo& info) {
    sink_->stop();
    return info.Env().Undefined();
  }
  Napi::Value Counts(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    bench::SinkCounts c = sink_->counts();
    Napi::Object by = Napi::Object::New(env);
    for (const auto& [mac, n] : c.by_dst_mac) by.Set(format_mac(mac), Napi::BigInt::New(env, n));
    Napi::Object r = Napi::Object::New(env);
    r.Set("total", Napi::BigInt::New(env, c.total));
    r.Set("byDstMac", by);
    r.Set("otherMacs", Napi::BigInt::New(env, c.other_macs));
    r.Set("ringDrops", Napi::BigInt::New(env, c.ring_drops));
    return r;
  }
  Napi::Value Frames(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    auto frames = sink_->frames();
    Napi::Array out = Napi::Array::New(env, frames.size());
    for (size_t i = 0; i < frames.size(); ++i)
      out.Set(static_cast<uint32_t>(i), Napi::Buffer<uint8_t>::Copy(env, frames[i].data(), frames[i].size()));
    return out;
  }

  std::unique_ptr<bench::Sink> sink_;
};

// ---- micro-benchmarks (synchronous: they are the measurement) ----

Napi::Value MicrobenchClassify(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = options_object(env, info[0], "microbenchClassify");
  Napi::Value fv = o.Get("frames");
  if (!fv.IsArray()) throw Napi::TypeError::New(env, "options.frames must be an array of Buffers");
  Napi::Array list = fv.As<Napi::Array>();
  std::vector<std::vector<uint8_t>> frames;
  for (uint32_t i = 0; i < list.Length(); ++i) {
    Napi::Value b = list.Get(i);
    if (!b.IsBuffer()) throw Napi::TypeError::New(env, "options.frames[" + std::to_string(i) + "] must be a Buffer");
    auto buf = b.As<Napi::Buffer<uint8_t>>();
    frames.emplace_back(buf.Data(), buf.Data() + buf.Length());
  }
  std::vector<ServiceSpec> services = snapshot_from_js(env, o.Get("snapshot"));
  auto iterations = static_cast<uint32_t>(int_option(env, o, "iterations", kRequired, 1, 4294967295.0));
  auto capacity = static_cast<uint32_t>(int_option(env, o, "flowCapacity", kRequired, 1, 1 << 30));
  auto prefill = static_cast<uint32_t>(int_option(env, o, "prefillFlows", 0, 0, 1 << 30));
  bench::ClassifyBenchResult r =
      guarded(env, [&] { return bench::bench_classify(frames, std::move(services), iterations, capacity, prefill); });
  Napi::Object out = Napi::Object::New(env);
  out.Set("nsPerFrame", r.ns_per_frame);
  out.Set("frames", static_cast<double>(r.frames));
  return out;
}

Napi::Value MicrobenchFlowTable(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = options_object(env, info[0], "microbenchFlowTable");
  auto entries = static_cast<uint32_t>(int_option(env, o, "entries", kRequired, 1, 1 << 30));
  auto operations = static_cast<uint32_t>(int_option(env, o, "operations", kRequired, 1, 1 << 30));
  bench::FlowTableBenchResult r = guarded(env, [&] { return bench::bench_flow_table(entries, operations); });
  Napi::Object out = Napi::Object::New(env);
  out.Set("insertNs", r.insert_ns);
  out.Set("lookupHitNs", r.lookup_hit_ns);
  out.Set("lookupMissNs", r.lookup_miss_ns);
  out.Set("eraseNs", r.erase_ns);
  out.Set("sweepNsPerSlot", r.sweep_ns_per_slot);
  out.Set("bytesPerEntry", r.bytes_per_entry);
  out.Set("tableBytes", static_cast<double>(r.table_bytes));
  return out;
}

Napi::Value MicrobenchMaglev(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = options_object(env, info[0], "microbenchMaglev");
  auto servers = static_cast<uint32_t>(int_option(env, o, "servers", kRequired, 1, 65534));
  auto size = static_cast<uint32_t>(int_option(env, o, "size", kRequired, 2, 4294967295.0));
  auto reps = static_cast<uint32_t>(int_option(env, o, "repetitions", kRequired, 1, 4294967295.0));
  double ns = guarded(env, [&] { return bench::bench_maglev(servers, size, reps); });
  Napi::Object out = Napi::Object::New(env);
  out.Set("buildNs", ns);
  return out;
}

Napi::Value MicrobenchSecondChance(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = options_object(env, info[0], "microbenchSecondChance");
  auto servers = static_cast<uint32_t>(int_option(env, o, "servers", kRequired, 1, 65533));
  auto size = static_cast<uint32_t>(int_option(env, o, "tableSize", kRequired, 2, 4294967295.0));
  auto flows = static_cast<uint32_t>(int_option(env, o, "flows", kRequired, 1, 1 << 24));
  auto rounds = static_cast<uint32_t>(int_option(env, o, "rounds", kRequired, 1, 1 << 20));
  bench::SecondChanceBenchResult r = guarded(env, [&] { return bench::bench_second_chance(servers, size, flows, rounds); });
  Napi::Object out = Napi::Object::New(env);
  out.Set("offNs", r.off_ns);
  out.Set("onNs", r.on_ns);
  out.Set("frames", static_cast<double>(r.frames));
  out.Set("byPrevious", static_cast<double>(r.by_previous));
  out.Set("previousBytes", static_cast<double>(r.previous_bytes));
  return out;
}

}  // namespace

void register_bench_bindings(Napi::Env env, Napi::Object exports) {
  exports.Set("runGenerator", Napi::Function::New<RunGenerator>(env, "runGenerator"));
  exports.Set("generatorFrames", Napi::Function::New<GeneratorFrames>(env, "generatorFrames"));
  exports.Set("Sink", SinkWrap::Define(env));
  exports.Set("microbenchClassify", Napi::Function::New<MicrobenchClassify>(env, "microbenchClassify"));
  exports.Set("microbenchFlowTable", Napi::Function::New<MicrobenchFlowTable>(env, "microbenchFlowTable"));
  exports.Set("microbenchMaglev", Napi::Function::New<MicrobenchMaglev>(env, "microbenchMaglev"));
  exports.Set("microbenchSecondChance", Napi::Function::New<MicrobenchSecondChance>(env, "microbenchSecondChance"));
}

}  // namespace las
