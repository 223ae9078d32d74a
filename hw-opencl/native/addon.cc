// The OpenCL host side of the intelfocl target: a thin, policy-free layer over the ICD loader.
// Platform choice, stream validation, budgets and timeouts live in hw-opencl/driver.ts; this file
// only enumerates platforms, builds a program, owns buffers, copies bytes and launches the core.
//
// Every OpenCL failure is thrown (or rejected) as a JS Error carrying `clName` (e.g.
// "CL_OUT_OF_RESOURCES"), `clCode`, `clCall` (the API function) and, for builds, `buildLog`;
// driver.ts turns it into a typed OpenClError.
//
// Blocking work (program builds, copies, waiting for the kernel) runs on libuv's thread pool so
// the event loop stays free: a JS-side timer can report a run past its timeout while the worker
// is still waiting for the kernel.
#include <CL/cl.h>
#include <napi.h>

#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "cl_errors.h"

namespace vta_ocl {

struct ClFailure {
  cl_int code = CL_SUCCESS;
  std::string call;
  std::string buildLog;
};

[[noreturn]] void fail(cl_int code, const char* call, std::string buildLog = "") {
  throw ClFailure{code, call, std::move(buildLog)};
}

inline void check(cl_int code, const char* call) {
  if (code != CL_SUCCESS) fail(code, call);
}

Napi::Error toJsError(Napi::Env env, const ClFailure& f) {
  std::string msg = f.call + " failed: " + clErrorName(f.code) + " (" + std::to_string(f.code) + ")";
  if (!f.buildLog.empty()) msg += "\nbuild log:\n" + f.buildLog;
  Napi::Error err = Napi::Error::New(env, msg);
  err.Set("clName", Napi::String::New(env, clErrorName(f.code)));
  err.Set("clCode", Napi::Number::New(env, f.code));
  err.Set("clCall", Napi::String::New(env, f.call));
  if (!f.buildLog.empty()) err.Set("buildLog", Napi::String::New(env, f.buildLog));
  return err;
}

// Runs `body` and rethrows an OpenCL failure as a JS exception.
template <typename F>
auto guarded(Napi::Env env, F body) -> decltype(body()) {
  try {
    return body();
  } catch (const ClFailure& f) {
    throw toJsError(env, f);
  }
}

std::string platformString(cl_platform_id p, cl_platform_info what) {
  size_t n = 0;
  check(clGetPlatformInfo(p, what, 0, nullptr, &n), "clGetPlatformInfo");
  std::string s(n, '\0');
  check(clGetPlatformInfo(p, what, n, s.data(), nullptr), "clGetPlatformInfo");
  while (!s.empty() && s.back() == '\0') s.pop_back();
  return s;
}

std::string deviceString(cl_device_id d, cl_device_info what) {
  size_t n = 0;
  check(clGetDeviceInfo(d, what, 0, nullptr, &n), "clGetDeviceInfo");
  std::string s(n, '\0');
  check(clGetDeviceInfo(d, what, n, s.data(), nullptr), "clGetDeviceInfo");
  while (!s.empty() && s.back() == '\0') s.pop_back();
  return s;
}

template <typename T>
T deviceScalar(cl_device_id d, cl_device_info what) {
  T v{};
  check(clGetDeviceInfo(d, what, sizeof v, &v, nullptr), "clGetDeviceInfo");
  return v;
}

std::vector<cl_platform_id> platformIds() {
  cl_uint n = 0;
  cl_int rc = clGetPlatformIDs(0, nullptr, &n);
  // The ICD loader reports "no platforms" as an error code; that is an empty list to us.
  if (rc == -1001 || n == 0) return {};
  check(rc, "clGetPlatformIDs");
  std::vector<cl_platform_id> ids(n);
  check(clGetPlatformIDs(n, ids.data(), nullptr), "clGetPlatformIDs");
  return ids;
}

std::vector<cl_device_id> deviceIds(cl_platform_id p) {
  cl_uint n = 0;
  cl_int rc = clGetDeviceIDs(p, CL_DEVICE_TYPE_ALL, 0, nullptr, &n);
  if (rc == CL_DEVICE_NOT_FOUND || n == 0) return {};
  check(rc, "clGetDeviceIDs");
  std::vector<cl_device_id> ids(n);
  check(clGetDeviceIDs(p, CL_DEVICE_TYPE_ALL, n, ids.data(), nullptr), "clGetDeviceIDs");
  return ids;
}

const char* deviceTypeName(cl_device_type t) {
  if (t & CL_DEVICE_TYPE_ACCELERATOR) return "accelerator";
  if (t & CL_DEVICE_TYPE_GPU) return "gpu";
  if (t & CL_DEVICE_TYPE_CPU) return "cpu";
  return "other";
}

// platforms(): [{ name, vendor, version, devices: [{ name, type, globalMemBytes, maxAllocBytes }] }]
Napi::Value Platforms(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    auto ids = platformIds();
    Napi::Array out = Napi::Array::New(env, ids.size());
    for (size_t i = 0; i < ids.size(); i++) {
      Napi::Object p = Napi::Object::New(env);
      p.Set("name", platformString(ids[i], CL_PLATFORM_NAME));
      p.Set("vendor", platformString(ids[i], CL_PLATFORM_VENDOR));
      p.Set("version", platformString(ids[i], CL_PLATFORM_VERSION));
      auto devs = deviceIds(ids[i]);
      Napi::Array da = Napi::Array::New(env, devs.size());
      for (size_t j = 0; j < devs.size(); j++) {
        Napi::Object d = Napi::Object::New(env);
        d.Set("name", deviceString(devs[j], CL_DEVICE_NAME));
        d.Set("type", deviceTypeName(deviceScalar<cl_device_type>(devs[j], CL_DEVICE_TYPE)));
        d.Set("globalMemBytes", Napi::Number::New(env, double(deviceScalar<cl_ulong>(devs[j], CL_DEVICE_GLOBAL_MEM_SIZE))));
        d.Set("maxAllocBytes", Napi::Number::New(env, double(deviceScalar<cl_ulong>(devs[j], CL_DEVICE_MAX_MEM_ALLOC_SIZE))));
        da.Set(j, d);
      }
      p.Set("devices", da);
      out.Set(i, p);
    }
    return out;
  });
}

// A promise-returning worker whose failures reject with the typed OpenCL error.
class ClWorker : public Napi::AsyncWorker {
 public:
  explicit ClWorker(Napi::Env env) : Napi::AsyncWorker(env), deferred_(Napi::Promise::Deferred::New(env)) {}
  Napi::Promise Promise() { return deferred_.Promise(); }

 protected:
  virtual void Work() = 0;
  virtual Napi::Value Result() { return Env().Undefined(); }

 private:
  void Execute() override {
    try {
      Work();
    } catch (const ClFailure& f) {
      failure_ = f;
      SetError(f.call);
    }
  }
  void OnOK() override { deferred_.Resolve(Result()); }
  void OnError(const Napi::Error&) override { deferred_.Reject(toJsError(Env(), failure_).Value()); }

  Napi::Promise::Deferred deferred_;
  ClFailure failure_;
};

std::string buildLog(cl_program program, cl_device_id device) {
  size_t n = 0;
  if (clGetProgramBuildInfo(program, device, CL_PROGRAM_BUILD_LOG, 0, nullptr, &n) != CL_SUCCESS) return "";
  std::string s(n, '\0');
  if (clGetProgramBuildInfo(program, device, CL_PROGRAM_BUILD_LOG, n, s.data(), nullptr) != CL_SUCCESS) return "";
  while (!s.empty() && (s.back() == '\0' || s.back() == '\n')) s.pop_back();
  return s;
}

// The number of 64-bit words of the status buffer the core writes (see vta.cl, VTA_STATUS_*).
constexpr size_t kStatusWords = 16;

class Device : public Napi::ObjectWrap<Device> {
 public:
  static Napi::Function Init(Napi::Env env) {
    return DefineClass(env, "Device",
                       {
                           InstanceMethod("info", &Device::Info),
                           InstanceMethod("buildSource", &Device::BuildSource),
                           InstanceMethod("buildBinary", &Device::BuildBinary),
                           InstanceMethod("programBinary", &Device::ProgramBinary),
                           InstanceMethod("createBuffer", &Device::CreateBuffer),
                           InstanceMethod("releaseBuffer", &Device::ReleaseBuffer),
                           InstanceMethod("write", &Device::Write),
                           InstanceMethod("read", &Device::Read),
                           InstanceMethod("run", &Device::Run),
                           InstanceMethod("failNextRun", &Device::FailNextRun),
                           InstanceMethod("release", &Device::Release),
                       });
  }

  // new Device(platformIndex, deviceIndex): a context and an in-order, profiling command queue.
  explicit Device(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Device>(info) {
    Napi::Env env = info.Env();
    uint32_t pi = info[0].As<Napi::Number>().Uint32Value();
    uint32_t di = info[1].As<Napi::Number>().Uint32Value();
    guarded(env, [&] {
      auto ps = platformIds();
      if (pi >= ps.size()) fail(CL_INVALID_PLATFORM, "clGetPlatformIDs");
      auto ds = deviceIds(ps[pi]);
      if (di >= ds.size()) fail(CL_DEVICE_NOT_FOUND, "clGetDeviceIDs");
      platform_ = ps[pi];
      device_ = ds[di];
      cl_int rc = CL_SUCCESS;
      cl_context_properties props[] = {CL_CONTEXT_PLATFORM, reinterpret_cast<cl_context_properties>(platform_), 0};
      context_ = clCreateContext(props, 1, &device_, nullptr, nullptr, &rc);
      check(rc, "clCreateContext");
      queue_ = clCreateCommandQueue(context_, device_, CL_QUEUE_PROFILING_ENABLE, &rc);
      check(rc, "clCreateCommandQueue");
      status_ = clCreateBuffer(context_, CL_MEM_READ_WRITE, kStatusWords * sizeof(cl_ulong), nullptr, &rc);
      check(rc, "clCreateBuffer");
    });
  }

  ~Device() override { releaseAll(); }

 private:
  Napi::Value Info(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    requireOpen(env);
    return guarded(env, [&]() -> Napi::Value {
      Napi::Object o = Napi::Object::New(env);
      o.Set("platform", platformString(platform_, CL_PLATFORM_NAME));
      o.Set("platformVersion", platformString(platform_, CL_PLATFORM_VERSION));
      o.Set("device", deviceString(device_, CL_DEVICE_NAME));
      o.Set("deviceVersion", deviceString(device_, CL_DEVICE_VERSION));
      o.Set("type", deviceTypeName(deviceScalar<cl_device_type>(device_, CL_DEVICE_TYPE)));
      o.Set("maxAllocBytes", Napi::Number::New(env, double(deviceScalar<cl_ulong>(device_, CL_DEVICE_MAX_MEM_ALLOC_SIZE))));
      o.Set("localMemBytes", Napi::Number::New(env, double(deviceScalar<cl_ulong>(device_, CL_DEVICE_LOCAL_MEM_SIZE))));
      return o;
    });
  }

  class BuildWorker : public ClWorker {
   public:
    BuildWorker(Napi::Env env, Device* dev, cl_program program, std::string options, std::string kernelName)
        : ClWorker(env), dev_(dev), program_(program), options_(std::move(options)), kernelName_(std::move(kernelName)) {}

   protected:
    void Work() override {
      cl_int rc = clBuildProgram(program_, 1, &dev_->device_, options_.c_str(), nullptr, nullptr);
      if (rc != CL_SUCCESS) {
        std::string log = buildLog(program_, dev_->device_);
        clReleaseProgram(program_);
        fail(rc, "clBuildProgram", log);
      }
      cl_kernel kernel = clCreateKernel(program_, kernelName_.c_str(), &rc);
      if (rc != CL_SUCCESS) {
        clReleaseProgram(program_);
        fail(rc, "clCreateKernel");
      }
      kernel_ = kernel;
    }
    // Install on the JS thread, so a run never sees a half-replaced program.
    Napi::Value Result() override {
      dev_->releaseProgram();
      dev_->program_ = program_;
      dev_->kernel_ = kernel_;
      return Env().Undefined();
    }

   private:
    Device* dev_;
    cl_program program_;
    cl_kernel kernel_ = nullptr;
    std::string options_;
    std::string kernelName_;
  };

  // buildSource(source, options, kernelName): Promise<void>; a failed build rejects with the log.
  Napi::Value BuildSource(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    requireOpen(env);
    std::string src = info[0].As<Napi::String>();
    std::string options = info[1].As<Napi::String>();
    std::string kernelName = info[2].As<Napi::String>();
    return guarded(env, [&]() -> Napi::Value {
      const char* text = src.c_str();
      size_t len = src.size();
      cl_int rc = CL_SUCCESS;
      cl_program program = clCreateProgramWithSource(context_, 1, &text, &len, &rc);
      check(rc, "clCreateProgramWithSource");
      auto* w = new BuildWorker(env, this, program, options, kernelName);
      w->Queue();
      return w->Promise();
    });
  }

  // buildBinary(bytes, options, kernelName): Promise<void>; for Intel's .aocx files.
  Napi::Value BuildBinary(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    requireOpen(env);
    auto bytes = info[0].As<Napi::Uint8Array>();
    std::string options = info[1].As<Napi::String>();
    std::string kernelName = info[2].As<Napi::String>();
    return guarded(env, [&]() -> Napi::Value {
      const unsigned char* data = bytes.Data();
      size_t len = bytes.ByteLength();
      cl_int status = CL_SUCCESS;
      cl_int rc = CL_SUCCESS;
      cl_program program = clCreateProgramWithBinary(context_, 1, &device_, &len, &data, &status, &rc);
      if (rc == CL_SUCCESS && status != CL_SUCCESS) {
        clReleaseProgram(program);
        rc = status;
      }
      check(rc, "clCreateProgramWithBinary");
      auto* w = new BuildWorker(env, this, program, options, kernelName);
      w->Queue();
      return w->Promise();
    });
  }

  // programBinary(): Uint8Array, the device binary of the built program (what buildBinary loads).
  Napi::Value ProgramBinary(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    requireOpen(env);
    if (program_ == nullptr) throw Napi::Error::New(env, "programBinary: no program has been built");
    return guarded(env, [&]() -> Napi::Value {
      size_t size = 0;
      check(clGetProgramInfo(program_, CL_PROGRAM_BINARY_SIZES, sizeof size, &size, nullptr), "clGetProgramInfo");
      Napi::Uint8Array out = Napi::Uint8Array::New(env, size);
      unsigned char* ptr = out.Data();
      check(clGetProgramInfo(program_, CL_PROGRAM_BINARIES, sizeof ptr, &ptr, nullptr), "clGetProgramInfo");
      return out;
    });
  }

  // createBuffer(bytes): a handle for write/read/run. The runtime's allocator manages offsets in it.
  Napi::Value CreateBuffer(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    requireOpen(env);
    double bytes = info[0].As<Napi::Number>().DoubleValue();
    return guarded(env, [&]() -> Napi::Value {
      cl_int rc = CL_SUCCESS;
      cl_mem mem = clCreateBuffer(context_, CL_MEM_READ_WRITE, size_t(bytes), nullptr, &rc);
      check(rc, "clCreateBuffer");
      buffers_.push_back({mem, size_t(bytes)});
      return Napi::Number::New(env, double(buffers_.size() - 1));
    });
  }

  Napi::Value ReleaseBuffer(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Buffer& b = buffer(env, info[0]);
    clReleaseMemObject(b.mem);
    b = Buffer{};
    return env.Undefined();
  }

  class WriteWorker : public ClWorker {
   public:
    WriteWorker(Napi::Env env, cl_command_queue q, cl_mem mem, size_t offset, Napi::Uint8Array data)
        : ClWorker(env), q_(q), mem_(mem), offset_(offset), ptr_(data.Data()), len_(data.ByteLength()),
          keep_(Napi::Persistent(data)) {}

   protected:
    void Work() override {
      check(clEnqueueWriteBuffer(q_, mem_, CL_TRUE, offset_, len_, ptr_, 0, nullptr, nullptr), "clEnqueueWriteBuffer");
    }

   private:
    cl_command_queue q_;
    cl_mem mem_;
    size_t offset_;
    const void* ptr_;
    size_t len_;
    Napi::Reference<Napi::Uint8Array> keep_;  // the source stays alive until the copy is done
  };

  // write(buffer, offset, Uint8Array): Promise<void>
  Napi::Value Write(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Buffer& b = buffer(env, info[0]);
    size_t offset = size_t(info[1].As<Napi::Number>().DoubleValue());
    auto* w = new WriteWorker(env, queue_, b.mem, offset, info[2].As<Napi::Uint8Array>());
    w->Queue();
    return w->Promise();
  }

  class ReadWorker : public ClWorker {
   public:
    ReadWorker(Napi::Env env, cl_command_queue q, cl_mem mem, size_t offset, size_t len)
        : ClWorker(env), q_(q), mem_(mem), offset_(offset), out_(Napi::Persistent(Napi::Uint8Array::New(env, len))),
          ptr_(out_.Value().Data()), len_(len) {}

   protected:
    void Work() override {
      if (len_ == 0) return;
      check(clEnqueueReadBuffer(q_, mem_, CL_TRUE, offset_, len_, ptr_, 0, nullptr, nullptr), "clEnqueueReadBuffer");
    }
    Napi::Value Result() override { return out_.Value(); }

   private:
    cl_command_queue q_;
    cl_mem mem_;
    size_t offset_;
    Napi::Reference<Napi::Uint8Array> out_;
    void* ptr_;
    size_t len_;
  };

  // read(buffer, offset, length): Promise<Uint8Array>
  Napi::Value Read(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Buffer& b = buffer(env, info[0]);
    size_t offset = size_t(info[1].As<Napi::Number>().DoubleValue());
    size_t len = size_t(info[2].As<Napi::Number>().DoubleValue());
    auto* w = new ReadWorker(env, queue_, b.mem, offset, len);
    w->Queue();
    return w->Promise();
  }

  class RunWorker : public ClWorker {
   public:
    RunWorker(Napi::Env env, cl_event kernelDone, cl_event statusRead, cl_int injected)
        : ClWorker(env), kernelDone_(kernelDone), statusRead_(statusRead), injected_(injected) {}
    ~RunWorker() override {
      clReleaseEvent(kernelDone_);
      if (statusRead_) clReleaseEvent(statusRead_);
    }
    cl_ulong* status() { return status_; }
    void setStatusEvent(cl_event e) { statusRead_ = e; }

   protected:
    void Work() override {
      check(clWaitForEvents(1, &statusRead_), "clWaitForEvents");
      cl_int exec = CL_COMPLETE;
      check(clGetEventInfo(kernelDone_, CL_EVENT_COMMAND_EXECUTION_STATUS, sizeof exec, &exec, nullptr), "clGetEventInfo");
      // An injected fault reads as the kernel command's execution status, where a real one shows.
      if (injected_ != CL_SUCCESS) exec = injected_;
      if (exec < 0) fail(exec, "clEnqueueNDRangeKernel");
      // Profiling is optional (some platforms refuse it); the run itself succeeded.
      cl_ulong t0 = 0, t1 = 0;
      if (clGetEventProfilingInfo(kernelDone_, CL_PROFILING_COMMAND_START, sizeof t0, &t0, nullptr) == CL_SUCCESS &&
          clGetEventProfilingInfo(kernelDone_, CL_PROFILING_COMMAND_END, sizeof t1, &t1, nullptr) == CL_SUCCESS) {
        kernelNs_ = double(t1 - t0);
      }
    }
    Napi::Value Result() override {
      Napi::Env env = Env();
      Napi::Object o = Napi::Object::New(env);
      Napi::Array words = Napi::Array::New(env, kStatusWords);
      // Counters stay far below 2^53, so plain numbers are exact.
      for (size_t i = 0; i < kStatusWords; i++) words.Set(i, Napi::Number::New(env, double(status_[i])));
      o.Set("status", words);
      o.Set("kernelNs", kernelNs_ < 0 ? env.Null() : Napi::Number::New(env, kernelNs_));
      return o;
    }

   private:
    cl_event kernelDone_;
    cl_event statusRead_;
    cl_int injected_;
    cl_ulong status_[kStatusWords] = {};
    double kernelNs_ = -1;
  };

  // failNextRun(status): a diagnostic for fault handling. The next run's kernel really runs, then
  // its command reports the (negative) OpenCL status `status` as its execution status.
  Napi::Value FailNextRun(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    requireOpen(env);
    cl_int status = info[0].As<Napi::Number>().Int32Value();
    if (status >= 0) throw Napi::Error::New(env, "failNextRun: the status must be a negative OpenCL error code");
    injectedRunError_ = status;
    return env.Undefined();
  }

  // run(buffer, insnIndex, insnCount, budget): Promise<{ status: number[], kernelNs: number | null }>.
  // The core's arguments: (mem, mem_bytes, insn_index, insn_count, budget, status).
  Napi::Value Run(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Buffer& b = buffer(env, info[0]);
    if (kernel_ == nullptr) throw Napi::Error::New(env, "run: no program has been built");
    cl_uint insnIndex = info[1].As<Napi::Number>().Uint32Value();
    cl_uint insnCount = info[2].As<Napi::Number>().Uint32Value();
    cl_ulong budget = cl_ulong(info[3].As<Napi::Number>().DoubleValue());
    cl_ulong memBytes = b.bytes;
    return guarded(env, [&]() -> Napi::Value {
      check(clSetKernelArg(kernel_, 0, sizeof(cl_mem), &b.mem), "clSetKernelArg");
      check(clSetKernelArg(kernel_, 1, sizeof memBytes, &memBytes), "clSetKernelArg");
      check(clSetKernelArg(kernel_, 2, sizeof insnIndex, &insnIndex), "clSetKernelArg");
      check(clSetKernelArg(kernel_, 3, sizeof insnCount, &insnCount), "clSetKernelArg");
      check(clSetKernelArg(kernel_, 4, sizeof budget, &budget), "clSetKernelArg");
      check(clSetKernelArg(kernel_, 5, sizeof(cl_mem), &status_), "clSetKernelArg");
      size_t one = 1;
      cl_event kernelDone = nullptr;
      check(clEnqueueNDRangeKernel(queue_, kernel_, 1, nullptr, &one, &one, 0, nullptr, &kernelDone),
            "clEnqueueNDRangeKernel");
      auto* w = new RunWorker(env, kernelDone, nullptr, injectedRunError_);
      injectedRunError_ = CL_SUCCESS;
      cl_event statusRead = nullptr;
      cl_int rc = clEnqueueReadBuffer(queue_, status_, CL_FALSE, 0, kStatusWords * sizeof(cl_ulong), w->status(), 0,
                                      nullptr, &statusRead);
      if (rc != CL_SUCCESS) {
        delete w;
        fail(rc, "clEnqueueReadBuffer");
      }
      w->setStatusEvent(statusRead);
      check(clFlush(queue_), "clFlush");
      w->Queue();
      return w->Promise();
    });
  }

  Napi::Value Release(const Napi::CallbackInfo& info) {
    releaseAll();
    return info.Env().Undefined();
  }

  struct Buffer {
    cl_mem mem = nullptr;
    size_t bytes = 0;
  };

  void requireOpen(Napi::Env env) {
    if (context_ == nullptr) throw Napi::Error::New(env, "the OpenCL device has been released");
  }

  Buffer& buffer(Napi::Env env, const Napi::Value& handle) {
    requireOpen(env);
    uint32_t i = handle.As<Napi::Number>().Uint32Value();
    if (i >= buffers_.size() || buffers_[i].mem == nullptr) throw Napi::Error::New(env, "unknown buffer handle");
    return buffers_[i];
  }

  void releaseProgram() {
    if (kernel_) clReleaseKernel(kernel_);
    if (program_) clReleaseProgram(program_);
    kernel_ = nullptr;
    program_ = nullptr;
  }

  void releaseAll() {
    if (queue_) clFinish(queue_);
    releaseProgram();
    for (auto& b : buffers_)
      if (b.mem) clReleaseMemObject(b.mem);
    buffers_.clear();
    if (status_) clReleaseMemObject(status_);
    if (queue_) clReleaseCommandQueue(queue_);
    if (context_) clReleaseContext(context_);
    status_ = nullptr;
    queue_ = nullptr;
    context_ = nullptr;
  }

  cl_platform_id platform_ = nullptr;
  cl_device_id device_ = nullptr;
  cl_context context_ = nullptr;
  cl_command_queue queue_ = nullptr;
  cl_program program_ = nullptr;
  cl_kernel kernel_ = nullptr;
  cl_mem status_ = nullptr;
  std::vector<Buffer> buffers_;
  cl_int injectedRunError_ = CL_SUCCESS;
};

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("platforms", Napi::Function::New(env, Platforms));
  exports.Set("Device", Device::Init(env));
  return exports;
}

}  // namespace vta_ocl

static Napi::Object InitModule(Napi::Env env, Napi::Object exports) { return vta_ocl::Init(env, exports); }

NODE_API_MODULE(vta_ocl, InitModule)
