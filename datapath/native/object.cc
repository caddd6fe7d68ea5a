// BPF objects (ELF files): open, patch load-time constants, reuse map fds, load, list, close.
// Objects are held in a handle table; JavaScript sees small integers.
#include <bpf/libbpf.h>

#include <cstring>
#include <map>
#include <memory>
#include <vector>

#include "errors.h"

namespace ciliate {

static std::map<uint32_t, bpf_object*> g_objects;
static uint32_t g_next_handle = 1;
static const size_t kLogSize = 8u << 20;

static bpf_object* GetObject(const Napi::CallbackInfo& info) {
  uint32_t h = ArgU32(info, 0, "handle");
  auto it = g_objects.find(h);
  if (it == g_objects.end()) ThrowErrno(info.Env(), EBADF, "bpf_object", std::to_string(h));
  return it->second;
}

static bpf_map* GetMap(const Napi::CallbackInfo& info, bpf_object* obj, size_t i) {
  std::string name = info[i].As<Napi::String>().Utf8Value();
  bpf_map* m = bpf_object__find_map_by_name(obj, name.c_str());
  if (!m) ThrowErrno(info.Env(), ENOENT, "bpf_object__find_map_by_name", name);
  return m;
}

// objOpen(path) -> handle
static Napi::Value ObjOpen(const Napi::CallbackInfo& info) {
  std::string path = info[0].As<Napi::String>().Utf8Value();
  errno = 0;
  bpf_object* obj = bpf_object__open_file(path.c_str(), nullptr);
  int err = libbpf_get_error(obj);
  if (err || !obj) ThrowErrno(info.Env(), err ? -err : errno, "bpf_object__open_file", path);
  uint32_t h = g_next_handle++;
  g_objects[h] = obj;
  return Napi::Number::New(info.Env(), h);
}

// objMaps(handle) -> [{name, type, keySize, valueSize, maxEntries, flags, fd}]
static Napi::Value ObjMaps(const Napi::CallbackInfo& info) {
  bpf_object* obj = GetObject(info);
  Napi::Env env = info.Env();
  Napi::Array out = Napi::Array::New(env);
  bpf_map* m;
  uint32_t i = 0;
  bpf_object__for_each_map(m, obj) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("name", bpf_map__name(m));
    o.Set("type", static_cast<double>(bpf_map__type(m)));
    o.Set("keySize", static_cast<double>(bpf_map__key_size(m)));
    o.Set("valueSize", static_cast<double>(bpf_map__value_size(m)));
    o.Set("maxEntries", static_cast<double>(bpf_map__max_entries(m)));
    o.Set("flags", static_cast<double>(bpf_map__map_flags(m)));
    o.Set("fd", static_cast<double>(bpf_map__fd(m)));
    out.Set(i++, o);
  }
  return out;
}

// objProgs(handle) -> [{name, section, type, fd}]
static Napi::Value ObjProgs(const Napi::CallbackInfo& info) {
  bpf_object* obj = GetObject(info);
  Napi::Env env = info.Env();
  Napi::Array out = Napi::Array::New(env);
  bpf_program* p;
  uint32_t i = 0;
  bpf_object__for_each_program(p, obj) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("name", bpf_program__name(p));
    o.Set("section", bpf_program__section_name(p));
    o.Set("type", static_cast<double>(bpf_program__type(p)));
    o.Set("fd", static_cast<double>(bpf_program__fd(p)));
    out.Set(i++, o);
  }
  return out;
}

// objSetInitialValue(handle, mapName, offset, bytes): patches a data section (.rodata) before load.
static Napi::Value ObjSetInitialValue(const Napi::CallbackInfo& info) {
  bpf_object* obj = GetObject(info);
  bpf_map* m = GetMap(info, obj, 1);
  uint32_t off = ArgU32(info, 2, "offset");
  auto bytes = ArgBuf(info, 3, "bytes");
  size_t size = 0;
  const void* cur = bpf_map__initial_value(m, &size);
  if (!cur || off + bytes.Length() > size)
    ThrowErrno(info.Env(), ERANGE, "bpf_map__set_initial_value", bpf_map__name(m));
  std::vector<uint8_t> data(static_cast<const uint8_t*>(cur), static_cast<const uint8_t*>(cur) + size);
  memcpy(data.data() + off, bytes.Data(), bytes.Length());
  int ret = bpf_map__set_initial_value(m, data.data(), size);
  if (ret) ThrowErrno(info.Env(), LibbpfErr(ret), "bpf_map__set_initial_value", bpf_map__name(m));
  return info.Env().Undefined();
}

// objReuseMapFd(handle, mapName, fd): makes the object use an existing map (e.g. a pinned one).
static Napi::Value ObjReuseMapFd(const Napi::CallbackInfo& info) {
  bpf_object* obj = GetObject(info);
  bpf_map* m = GetMap(info, obj, 1);
  int ret = bpf_map__reuse_fd(m, static_cast<int>(ArgU32(info, 2, "fd")));
  if (ret) ThrowErrno(info.Env(), LibbpfErr(ret), "bpf_map__reuse_fd", bpf_map__name(m));
  return info.Env().Undefined();
}

// objSetMaxEntries(handle, mapName, n)
static Napi::Value ObjSetMaxEntries(const Napi::CallbackInfo& info) {
  bpf_object* obj = GetObject(info);
  bpf_map* m = GetMap(info, obj, 1);
  int ret = bpf_map__set_max_entries(m, ArgU32(info, 2, "maxEntries"));
  if (ret) ThrowErrno(info.Env(), LibbpfErr(ret), "bpf_map__set_max_entries", bpf_map__name(m));
  return info.Env().Undefined();
}

// objLoad(handle): loads maps and programs; on failure the error carries verifierLog and libbpfLog.
static Napi::Value ObjLoad(const Napi::CallbackInfo& info) {
  bpf_object* obj = GetObject(info);
  std::vector<std::unique_ptr<char[]>> logs;
  std::vector<bpf_program*> progs;
  bpf_program* p;
  bpf_object__for_each_program(p, obj) {
    logs.emplace_back(new char[kLogSize]);
    logs.back()[0] = 0;
    bpf_program__set_log_buf(p, logs.back().get(), kLogSize);
    progs.push_back(p);
  }
  TakeLibbpfLog();
  int ret = bpf_object__load(obj);
  for (auto* prog : progs) bpf_program__set_log_buf(prog, nullptr, 0);
  if (ret) {
    std::string verifier;
    for (size_t i = 0; i < progs.size(); i++) {
      if (logs[i][0] == 0) continue;
      verifier += std::string("-- program ") + bpf_program__name(progs[i]) + " --\n" + logs[i].get();
    }
    Napi::Error e = ErrnoError(info.Env(), LibbpfErr(ret), "bpf_object__load", bpf_object__name(obj));
    e.Set("verifierLog", verifier);
    e.Set("libbpfLog", TakeLibbpfLog());
    throw e;
  }
  return info.Env().Undefined();
}

// objClose(handle): closes the object and every fd it owns (reused fds stay with their owner's dup).
static Napi::Value ObjClose(const Napi::CallbackInfo& info) {
  uint32_t h = ArgU32(info, 0, "handle");
  auto it = g_objects.find(h);
  if (it != g_objects.end()) {
    bpf_object__close(it->second);
    g_objects.erase(it);
  }
  return info.Env().Undefined();
}

void InitObject(Napi::Env env, Napi::Object exports) {
  exports.Set("objOpen", Napi::Function::New(env, ObjOpen));
  exports.Set("objMaps", Napi::Function::New(env, ObjMaps));
  exports.Set("objProgs", Napi::Function::New(env, ObjProgs));
  exports.Set("objSetInitialValue", Napi::Function::New(env, ObjSetInitialValue));
  exports.Set("objReuseMapFd", Napi::Function::New(env, ObjReuseMapFd));
  exports.Set("objSetMaxEntries", Napi::Function::New(env, ObjSetMaxEntries));
  exports.Set("objLoad", Napi::Function::New(env, ObjLoad));
  exports.Set("objClose", Napi::Function::New(env, ObjClose));
}

}  // namespace ciliate
