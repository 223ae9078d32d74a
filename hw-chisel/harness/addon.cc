// Node addon over the C API in tsim.h: the `tsim` target's device. Runs execute on a worker thread
// so the event loop stays free while the core is clocked.
#include <napi.h>

#include <algorithm>
#include <vector>

#include "tsim.h"

namespace {

class Device : public Napi::ObjectWrap<Device> {
 public:
  static Napi::Object Init(Napi::Env env, Napi::Object exports) {
    Napi::Function ctor = DefineClass(env, "Device",
                                      {InstanceMethod("write", &Device::Write), InstanceMethod("read", &Device::Read),
                                       InstanceMethod("run", &Device::Run), InstanceMethod("close", &Device::Close)});
    exports.Set("Device", ctor);
    Napi::Array names = Napi::Array::New(env);
    for (int i = 0; i < vta_tsim_num_counters(); i++) names.Set(i, vta_tsim_counter_name(i));
    exports.Set("counterNames", names);
    exports.Set("fingerprint", vta_tsim_fingerprint());
    exports.Set("busBits", vta_tsim_bus_bits());
    return exports;
  }

  // new Device(memBytes, latencyCycles)
  explicit Device(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Device>(info) {
    uint64_t bytes = uint64_t(info[0].As<Napi::Number>().Int64Value());
    uint32_t latency = info[1].As<Napi::Number>().Uint32Value();
    sim_ = vta_tsim_create(bytes, latency);
    if (!sim_) Napi::Error::New(info.Env(), "cannot allocate the simulated DRAM").ThrowAsJavaScriptException();
  }
  ~Device() override { vta_tsim_destroy(sim_); }

  vta_tsim* sim() const { return sim_; }
  bool busy = false;

 private:
  bool Usable(const Napi::CallbackInfo& info) {
    if (!sim_ || busy) {
      Napi::Error::New(info.Env(), sim_ ? "the device is running" : "the device is closed").ThrowAsJavaScriptException();
      return false;
    }
    return true;
  }

  // write(offset, Uint8Array)
  Napi::Value Write(const Napi::CallbackInfo& info) {
    if (!Usable(info)) return info.Env().Undefined();
    uint64_t off = uint64_t(info[0].As<Napi::Number>().Int64Value());
    auto data = info[1].As<Napi::Uint8Array>();
    return Napi::Number::New(info.Env(), vta_tsim_write(sim_, off, data.Data(), data.ByteLength()));
  }

  // read(offset, Uint8Array) fills the array.
  Napi::Value Read(const Napi::CallbackInfo& info) {
    if (!Usable(info)) return info.Env().Undefined();
    uint64_t off = uint64_t(info[0].As<Napi::Number>().Int64Value());
    auto data = info[1].As<Napi::Uint8Array>();
    return Napi::Number::New(info.Env(), vta_tsim_read(sim_, off, data.Data(), data.ByteLength()));
  }

  // run(insnOffset, count, timeoutMs, maxCycles) -> Promise<{status, cycles, counters}>
  Napi::Value Run(const Napi::CallbackInfo& info);

  Napi::Value Close(const Napi::CallbackInfo& info) {
    if (!Usable(info)) return info.Env().Undefined();
    vta_tsim_destroy(sim_);
    sim_ = nullptr;
    return info.Env().Undefined();
  }

  vta_tsim* sim_ = nullptr;
};

class RunWorker : public Napi::AsyncWorker {
 public:
  RunWorker(Napi::Env env, Device* dev, Napi::Object keep, uint64_t off, uint32_t count, double timeoutMs,
            uint64_t maxCycles)
      : Napi::AsyncWorker(env), deferred_(Napi::Promise::Deferred::New(env)), dev_(dev), off_(off), count_(count),
        timeoutMs_(timeoutMs), maxCycles_(maxCycles) {
    keep_ = Napi::Persistent(keep);
  }
  Napi::Promise Promise() { return deferred_.Promise(); }

  void Execute() override {
    status_ = vta_tsim_run(dev_->sim(), off_, count_, timeoutMs_, maxCycles_);
    cycles_ = vta_tsim_cycles(dev_->sim());
    for (int i = 0; i < vta_tsim_num_counters(); i++) counters_.push_back(vta_tsim_counter(dev_->sim(), i));
    for (int m = 0; m < 3; m++) {
      uint32_t n = 0;
      const uint32_t* c = vta_tsim_retired(dev_->sim(), m, &n);
      retired_[m].assign(c, c + n);
    }
  }
  void OnOK() override {
    Napi::Env env = Env();
    dev_->busy = false;
    Napi::Object r = Napi::Object::New(env);
    r.Set("status", status_);
    r.Set("cycles", cycles_);
    Napi::Object c = Napi::Object::New(env);
    for (size_t i = 0; i < counters_.size(); i++) c.Set(vta_tsim_counter_name(int(i)), counters_[i]);
    r.Set("counters", c);
    Napi::Array retired = Napi::Array::New(env, 3);
    for (uint32_t m = 0; m < 3; m++) {
      auto a = Napi::Uint32Array::New(env, retired_[m].size());
      std::copy(retired_[m].begin(), retired_[m].end(), a.Data());
      retired.Set(m, a);
    }
    r.Set("retired", retired);
    deferred_.Resolve(r);
  }

 private:
  Napi::Promise::Deferred deferred_;
  Device* dev_;
  Napi::ObjectReference keep_;
  uint64_t off_;
  uint32_t count_;
  double timeoutMs_;
  uint64_t maxCycles_;
  int status_ = 0;
  uint32_t cycles_ = 0;
  std::vector<uint32_t> counters_;
  std::vector<uint32_t> retired_[3];
};

Napi::Value Device::Run(const Napi::CallbackInfo& info) {
  if (!Usable(info)) return info.Env().Undefined();
  busy = true;
  auto* w = new RunWorker(info.Env(), this, info.This().As<Napi::Object>(),
                          uint64_t(info[0].As<Napi::Number>().Int64Value()), info[1].As<Napi::Number>().Uint32Value(),
                          info[2].As<Napi::Number>().DoubleValue(), uint64_t(info[3].As<Napi::Number>().Int64Value()));
  Napi::Promise p = w->Promise();
  w->Queue();
  return p;
}

Napi::Object InitAll(Napi::Env env, Napi::Object exports) { return Device::Init(env, exports); }

}  // namespace

NODE_API_MODULE(vta_tsim, InitAll)
