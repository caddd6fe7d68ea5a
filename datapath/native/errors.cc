// fs-style errors, argument helpers and libbpf message capture.
#include "errors.h"

#include <bpf/libbpf.h>
#include <cerrno>
#include <cstdarg>
#include <cstring>

namespace ciliate {

Napi::Error ErrnoError(Napi::Env env, int err, const char* syscall, const std::string& detail) {
  const char* name = strerrorname_np(err);
  std::string code = name ? name : ("E" + std::to_string(err));
  std::string msg = code + ": " + strerror(err) + ", " + syscall;
  if (!detail.empty()) msg += " '" + detail + "'";
  Napi::Error e = Napi::Error::New(env, msg);
  e.Set("code", Napi::String::New(env, code));
  e.Set("errno", Napi::Number::New(env, -err));
  e.Set("syscall", Napi::String::New(env, syscall));
  return e;
}

void ThrowErrno(Napi::Env env, int err, const char* syscall, const std::string& detail) {
  throw ErrnoError(env, err, syscall, detail);
}

int LibbpfErr(int ret) {
  if (ret < -1) return -ret;
  return errno ? errno : EINVAL;
}

uint32_t ArgU32(const Napi::CallbackInfo& info, size_t i, const char* what) {
  if (info.Length() <= i || !info[i].IsNumber())
    throw Napi::TypeError::New(info.Env(), std::string(what) + " must be a number");
  return info[i].As<Napi::Number>().Uint32Value();
}

Napi::Buffer<uint8_t> ArgBuf(const Napi::CallbackInfo& info, size_t i, const char* what) {
  if (info.Length() <= i || !info[i].IsBuffer())
    throw Napi::TypeError::New(info.Env(), std::string(what) + " must be a Buffer");
  return info[i].As<Napi::Buffer<uint8_t>>();
}

static thread_local std::string g_log;

static int CapturePrint(enum libbpf_print_level level, const char* fmt, va_list args) {
  if (level == LIBBPF_DEBUG) return 0;
  char line[1024];
  int n = vsnprintf(line, sizeof(line), fmt, args);
  if (g_log.size() < (1u << 20)) g_log.append(line);
  return n;
}

void InstallLibbpfPrint() { libbpf_set_print(CapturePrint); }

std::string TakeLibbpfLog() {
  std::string out;
  out.swap(g_log);
  return out;
}

}  // namespace ciliate
