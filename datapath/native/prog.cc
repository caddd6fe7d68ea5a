// Program syscalls: BPF_PROG_TEST_RUN and program info.
#include <bpf/bpf.h>

#include <cerrno>
#include <vector>

#include "errors.h"

namespace ciliate {

// progTestRun(fd, data, {repeat?, ctx?, dataOutSize?, ctxOutSize?}) -> {retval, durationNs, data, ctx?}
static Napi::Value ProgTestRun(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = static_cast<int>(ArgU32(info, 0, "fd"));
  auto data = ArgBuf(info, 1, "data");
  Napi::Object opts = info.Length() > 2 && info[2].IsObject() ? info[2].As<Napi::Object>() : Napi::Object::New(env);
  auto num = [&](const char* k, uint32_t def) {
    return opts.Has(k) && opts.Get(k).IsNumber() ? opts.Get(k).As<Napi::Number>().Uint32Value() : def;
  };
  std::vector<uint8_t> out(num("dataOutSize", static_cast<uint32_t>(data.Length()) + 256));
  std::vector<uint8_t> ctxIn, ctxOut;
  if (opts.Has("ctx") && opts.Get("ctx").IsBuffer()) {
    auto c = opts.Get("ctx").As<Napi::Buffer<uint8_t>>();
    ctxIn.assign(c.Data(), c.Data() + c.Length());
    ctxOut.resize(num("ctxOutSize", static_cast<uint32_t>(c.Length())));
  }
  LIBBPF_OPTS(bpf_test_run_opts, topts, .data_in = data.Data(), .data_out = out.data(),
              .data_size_in = static_cast<uint32_t>(data.Length()),
              .data_size_out = static_cast<uint32_t>(out.size()), .repeat = static_cast<int>(num("repeat", 1)));
  if (!ctxIn.empty()) {
    topts.ctx_in = ctxIn.data();
    topts.ctx_size_in = static_cast<uint32_t>(ctxIn.size());
    topts.ctx_out = ctxOut.data();
    topts.ctx_size_out = static_cast<uint32_t>(ctxOut.size());
  }
  if (bpf_prog_test_run_opts(fd, &topts)) ThrowErrno(env, errno, "bpf_prog_test_run_opts");
  Napi::Object res = Napi::Object::New(env);
  res.Set("retval", Napi::Number::New(env, static_cast<int32_t>(topts.retval)));
  res.Set("durationNs", topts.duration);
  res.Set("data", Napi::Buffer<uint8_t>::Copy(env, out.data(), topts.data_size_out));
  if (!ctxIn.empty()) res.Set("ctx", Napi::Buffer<uint8_t>::Copy(env, ctxOut.data(), topts.ctx_size_out));
  return res;
}

// progInfo(fd) -> {id, type, name, runTimeNs, runCount}
static Napi::Value ProgInfo(const Napi::CallbackInfo& info) {
  bpf_prog_info pi = {};
  uint32_t len = sizeof(pi);
  if (bpf_obj_get_info_by_fd(static_cast<int>(ArgU32(info, 0, "fd")), &pi, &len))
    ThrowErrno(info.Env(), errno, "bpf_obj_get_info_by_fd");
  Napi::Object o = Napi::Object::New(info.Env());
  o.Set("id", pi.id);
  o.Set("type", pi.type);
  o.Set("name", pi.name);
  o.Set("runTimeNs", static_cast<double>(pi.run_time_ns));
  o.Set("runCount", static_cast<double>(pi.run_cnt));
  return o;
}

void InitProg(Napi::Env env, Napi::Object exports) {
  exports.Set("progTestRun", Napi::Function::New(env, ProgTestRun));
  exports.Set("progInfo", Napi::Function::New(env, ProgInfo));
}

}  // namespace ciliate
