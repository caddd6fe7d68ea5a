// Map syscalls on fds: lookup, update, delete, iterate, batch update/delete; plus fd-level
// helpers shared by maps, programs and links (pin, get pinned, info, dup, close).
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <vector>

#include "errors.h"

namespace ciliate {

static int ArgFd(const Napi::CallbackInfo& info, size_t i) { return static_cast<int>(ArgU32(info, i, "fd")); }

// mapLookup(fd, key, valueSize) -> Buffer | null (missing key)
static Napi::Value MapLookup(const Napi::CallbackInfo& info) {
  auto key = ArgBuf(info, 1, "key");
  auto value = Napi::Buffer<uint8_t>::New(info.Env(), ArgU32(info, 2, "valueSize"));
  if (bpf_map_lookup_elem(ArgFd(info, 0), key.Data(), value.Data())) {
    if (errno == ENOENT) return info.Env().Null();
    ThrowErrno(info.Env(), errno, "bpf_map_lookup_elem");
  }
  return value;
}

// mapUpdate(fd, key, value, flags)
static Napi::Value MapUpdate(const Napi::CallbackInfo& info) {
  auto key = ArgBuf(info, 1, "key");
  auto value = ArgBuf(info, 2, "value");
  uint32_t flags = info.Length() > 3 ? ArgU32(info, 3, "flags") : 0;
  if (bpf_map_update_elem(ArgFd(info, 0), key.Data(), value.Data(), flags))
    ThrowErrno(info.Env(), errno, "bpf_map_update_elem");
  return info.Env().Undefined();
}

// mapDelete(fd, key) -> true if deleted, false if it was missing
static Napi::Value MapDelete(const Napi::CallbackInfo& info) {
  auto key = ArgBuf(info, 1, "key");
  if (bpf_map_delete_elem(ArgFd(info, 0), key.Data())) {
    if (errno == ENOENT) return Napi::Boolean::New(info.Env(), false);
    ThrowErrno(info.Env(), errno, "bpf_map_delete_elem");
  }
  return Napi::Boolean::New(info.Env(), true);
}

// mapNextKey(fd, key | null, keySize) -> Buffer | null (end)
static Napi::Value MapNextKey(const Napi::CallbackInfo& info) {
  uint32_t keySize = ArgU32(info, 2, "keySize");
  auto next = Napi::Buffer<uint8_t>::New(info.Env(), keySize);
  const void* cur = info[1].IsBuffer() ? info[1].As<Napi::Buffer<uint8_t>>().Data() : nullptr;
  if (bpf_map_get_next_key(ArgFd(info, 0), cur, next.Data())) {
    if (errno == ENOENT) return info.Env().Null();
    ThrowErrno(info.Env(), errno, "bpf_map_get_next_key");
  }
  return next;
}

// mapDump(fd, keySize, valueSize, max) -> {keys, values, count}: walks the map with get_next_key.
// Keys deleted during the walk are skipped; a walk restarted by the kernel may repeat keys.
static Napi::Value MapDump(const Napi::CallbackInfo& info) {
  int fd = ArgFd(info, 0);
  uint32_t ks = ArgU32(info, 1, "keySize"), vs = ArgU32(info, 2, "valueSize");
  uint32_t max = ArgU32(info, 3, "max");
  std::vector<uint8_t> keys, values, cur(ks), next(ks), val(vs);
  bool first = true;
  uint32_t count = 0;
  while (count < max) {
    if (bpf_map_get_next_key(fd, first ? nullptr : cur.data(), next.data())) {
      if (errno == ENOENT) break;
      ThrowErrno(info.Env(), errno, "bpf_map_get_next_key");
    }
    first = false;
    cur = next;
    if (bpf_map_lookup_elem(fd, cur.data(), val.data())) {
      if (errno == ENOENT) continue;
      ThrowErrno(info.Env(), errno, "bpf_map_lookup_elem");
    }
    keys.insert(keys.end(), cur.begin(), cur.end());
    values.insert(values.end(), val.begin(), val.end());
    count++;
  }
  Napi::Object out = Napi::Object::New(info.Env());
  out.Set("keys", Napi::Buffer<uint8_t>::Copy(info.Env(), keys.data(), keys.size()));
  out.Set("values", Napi::Buffer<uint8_t>::Copy(info.Env(), values.data(), values.size()));
  out.Set("count", static_cast<double>(count));
  return out;
}

// Counts a map's keys with get_next_key (no values read), up to `max`, on a libuv worker thread, on
// a dup of the fd (closed when done, so the caller may close its own meanwhile).
class CountWorker : public Napi::AsyncWorker {
 public:
  CountWorker(Napi::Env env, int fd, uint32_t keySize, uint32_t max)
      : Napi::AsyncWorker(env), fd_(fd), keySize_(keySize), max_(max), deferred_(Napi::Promise::Deferred::New(env)) {}

  Napi::Promise Promise() const { return deferred_.Promise(); }

  void Execute() override {
    std::vector<uint8_t> cur(keySize_), next(keySize_);
    bool first = true;
    while (count_ < max_) {
      if (bpf_map_get_next_key(fd_, first ? nullptr : cur.data(), next.data())) {
        if (errno != ENOENT) err_ = errno;
        break;
      }
      first = false;
      cur.swap(next);
      count_++;
    }
    close(fd_);
  }

  void OnOK() override {
    if (err_) deferred_.Reject(ErrnoError(Env(), err_, "bpf_map_get_next_key").Value());
    else deferred_.Resolve(Napi::Number::New(Env(), count_));
  }

 private:
  int fd_;
  uint32_t keySize_;
  uint32_t max_;
  uint32_t count_ = 0;
  int err_ = 0;
  Napi::Promise::Deferred deferred_;
};

// mapCountAsync(fd, keySize, max) -> Promise<number>: how many keys the map holds (at most max),
// walked on a worker thread. A walk racing with deletes may count a key twice or miss one.
static Napi::Value MapCountAsync(const Napi::CallbackInfo& info) {
  int fd = fcntl(ArgFd(info, 0), F_DUPFD_CLOEXEC, 0);
  if (fd < 0) ThrowErrno(info.Env(), errno, "fcntl(F_DUPFD_CLOEXEC)");
  auto* worker = new CountWorker(info.Env(), fd, ArgU32(info, 1, "keySize"), ArgU32(info, 2, "max"));
  Napi::Promise promise = worker->Promise();
  worker->Queue();
  return promise;
}

// mapUpdateBatch(fd, keys, values, count, flags): one BPF_MAP_UPDATE_BATCH call.
static Napi::Value MapUpdateBatch(const Napi::CallbackInfo& info) {
  auto keys = ArgBuf(info, 1, "keys");
  auto values = ArgBuf(info, 2, "values");
  uint32_t count = ArgU32(info, 3, "count");
  LIBBPF_OPTS(bpf_map_batch_opts, opts, .elem_flags = info.Length() > 4 ? ArgU32(info, 4, "flags") : 0);
  if (bpf_map_update_batch(ArgFd(info, 0), keys.Data(), values.Data(), &count, &opts)) {
    Napi::Error e = ErrnoError(info.Env(), errno, "bpf_map_update_batch");
    e.Set("processed", static_cast<double>(count));
    throw e;
  }
  return Napi::Number::New(info.Env(), count);
}

// mapDeleteBatch(fd, keys, count): one BPF_MAP_DELETE_BATCH call (fails with ENOENT on a missing key).
static Napi::Value MapDeleteBatch(const Napi::CallbackInfo& info) {
  auto keys = ArgBuf(info, 1, "keys");
  uint32_t count = ArgU32(info, 2, "count");
  if (bpf_map_delete_batch(ArgFd(info, 0), keys.Data(), &count, nullptr)) {
    Napi::Error e = ErrnoError(info.Env(), errno, "bpf_map_delete_batch");
    e.Set("processed", static_cast<double>(count));
    throw e;
  }
  return Napi::Number::New(info.Env(), count);
}

// mapUpdateEach(fd, keys, values, count, flags): element-wise updates in one native call, for map
// types without batch support (LPM tries).
static Napi::Value MapUpdateEach(const Napi::CallbackInfo& info) {
  int fd = ArgFd(info, 0);
  auto keys = ArgBuf(info, 1, "keys");
  auto values = ArgBuf(info, 2, "values");
  uint32_t count = ArgU32(info, 3, "count");
  uint32_t flags = info.Length() > 4 ? ArgU32(info, 4, "flags") : 0;
  if (count == 0) return Napi::Number::New(info.Env(), 0);
  size_t ks = keys.Length() / count, vs = values.Length() / count;
  for (uint32_t i = 0; i < count; i++) {
    if (bpf_map_update_elem(fd, keys.Data() + i * ks, values.Data() + i * vs, flags)) {
      Napi::Error e = ErrnoError(info.Env(), errno, "bpf_map_update_elem");
      e.Set("processed", static_cast<double>(i));
      throw e;
    }
  }
  return Napi::Number::New(info.Env(), count);
}

// mapDeleteEach(fd, keys, count) -> number deleted; missing keys are not errors.
static Napi::Value MapDeleteEach(const Napi::CallbackInfo& info) {
  int fd = ArgFd(info, 0);
  auto keys = ArgBuf(info, 1, "keys");
  uint32_t count = ArgU32(info, 2, "count"), deleted = 0;
  if (count == 0) return Napi::Number::New(info.Env(), 0);
  size_t ks = keys.Length() / count;
  for (uint32_t i = 0; i < count; i++) {
    if (bpf_map_delete_elem(fd, keys.Data() + i * ks) == 0) deleted++;
    else if (errno != ENOENT) ThrowErrno(info.Env(), errno, "bpf_map_delete_elem");
  }
  return Napi::Number::New(info.Env(), deleted);
}

// mapInfo(fd) -> {type, id, keySize, valueSize, maxEntries, flags, name}
static Napi::Value MapInfo(const Napi::CallbackInfo& info) {
  bpf_map_info mi = {};
  uint32_t len = sizeof(mi);
  if (bpf_obj_get_info_by_fd(ArgFd(info, 0), &mi, &len)) ThrowErrno(info.Env(), errno, "bpf_obj_get_info_by_fd");
  Napi::Object o = Napi::Object::New(info.Env());
  o.Set("type", mi.type);
  o.Set("id", mi.id);
  o.Set("keySize", mi.key_size);
  o.Set("valueSize", mi.value_size);
  o.Set("maxEntries", mi.max_entries);
  o.Set("flags", mi.map_flags);
  o.Set("name", mi.name);
  return o;
}

// objPin(fd, path)
static Napi::Value ObjPin(const Napi::CallbackInfo& info) {
  std::string path = info[1].As<Napi::String>().Utf8Value();
  if (bpf_obj_pin(ArgFd(info, 0), path.c_str())) ThrowErrno(info.Env(), errno, "bpf_obj_pin", path);
  return info.Env().Undefined();
}

// objGet(path) -> fd of a pinned map, program or link
static Napi::Value ObjGet(const Napi::CallbackInfo& info) {
  std::string path = info[0].As<Napi::String>().Utf8Value();
  int fd = bpf_obj_get(path.c_str());
  if (fd < 0) ThrowErrno(info.Env(), errno, "bpf_obj_get", path);
  return Napi::Number::New(info.Env(), fd);
}

// fdDup(fd) -> new close-on-exec fd for the same object
static Napi::Value FdDup(const Napi::CallbackInfo& info) {
  int fd = fcntl(ArgFd(info, 0), F_DUPFD_CLOEXEC, 3);
  if (fd < 0) ThrowErrno(info.Env(), errno, "fcntl");
  return Napi::Number::New(info.Env(), fd);
}

// fdClose(fd)
static Napi::Value FdClose(const Napi::CallbackInfo& info) {
  if (close(ArgFd(info, 0))) ThrowErrno(info.Env(), errno, "close");
  return info.Env().Undefined();
}

// possibleCpus() -> number of possible CPUs (per-CPU value arrays have this many slots)
static Napi::Value PossibleCpus(const Napi::CallbackInfo& info) {
  int n = libbpf_num_possible_cpus();
  if (n < 0) ThrowErrno(info.Env(), -n, "libbpf_num_possible_cpus");
  return Napi::Number::New(info.Env(), n);
}

void InitMap(Napi::Env env, Napi::Object exports) {
  exports.Set("mapLookup", Napi::Function::New(env, MapLookup));
  exports.Set("mapUpdate", Napi::Function::New(env, MapUpdate));
  exports.Set("mapDelete", Napi::Function::New(env, MapDelete));
  exports.Set("mapNextKey", Napi::Function::New(env, MapNextKey));
  exports.Set("mapDump", Napi::Function::New(env, MapDump));
  exports.Set("mapCountAsync", Napi::Function::New(env, MapCountAsync));
  exports.Set("mapUpdateBatch", Napi::Function::New(env, MapUpdateBatch));
  exports.Set("mapDeleteBatch", Napi::Function::New(env, MapDeleteBatch));
  exports.Set("mapUpdateEach", Napi::Function::New(env, MapUpdateEach));
  exports.Set("mapDeleteEach", Napi::Function::New(env, MapDeleteEach));
  exports.Set("mapInfo", Napi::Function::New(env, MapInfo));
  exports.Set("objPin", Napi::Function::New(env, ObjPin));
  exports.Set("objGet", Napi::Function::New(env, ObjGet));
  exports.Set("fdDup", Napi::Function::New(env, FdDup));
  exports.Set("fdClose", Napi::Function::New(env, FdClose));
  exports.Set("possibleCpus", Napi::Function::New(env, PossibleCpus));
}

}  // namespace ciliate
