// Ring buffer reader inside Node's own event loop: a uv_poll on libbpf's epoll fd for wakeups, and
// consume() for timer-driven draining of records submitted without wakeup. Each drain hands one
// batch Buffer to JavaScript: records back to back as [u32 length][record][pad to 8].
#include <bpf/libbpf.h>

#include <cerrno>
#include <string>

#include "errors.h"
#include "poll.h"

namespace ciliate {

class RingReader : public Napi::ObjectWrap<RingReader> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "RingReader",
                       {InstanceMethod("consume", &RingReader::Consume), InstanceMethod("start", &RingReader::Start),
                        InstanceMethod("close", &RingReader::Close)});
  }

  // new RingReader(mapFd, onBatch(buffer, count), maxBatchBytes)
  explicit RingReader(const Napi::CallbackInfo& info) : Napi::ObjectWrap<RingReader>(info) {
    int fd = static_cast<int>(ArgU32(info, 0, "mapFd"));
    if (!info[1].IsFunction()) throw Napi::TypeError::New(info.Env(), "onBatch must be a function");
    callback_ = Napi::Persistent(info[1].As<Napi::Function>());
    max_batch_ = info.Length() > 2 ? ArgU32(info, 2, "maxBatchBytes") : (1u << 20);
    rb_ = ring_buffer__new(fd, &RingReader::OnSample, this, nullptr);
    if (!rb_) ThrowErrno(info.Env(), errno ? errno : EINVAL, "ring_buffer__new");
  }

  ~RingReader() override { Release(); }

 private:
  static int OnSample(void* ctx, void* data, size_t len) {
    auto* self = static_cast<RingReader*>(ctx);
    uint32_t n = static_cast<uint32_t>(len);
    self->batch_.append(reinterpret_cast<const char*>(&n), 4);
    self->batch_.append(4, '\0');
    self->batch_.append(static_cast<const char*>(data), len);
    self->batch_.append((8 - len % 8) % 8, '\0');
    self->count_++;
    // Stop this pass once the batch is full; the rest stays in the ring for the next drain.
    return self->batch_.size() >= self->max_batch_ ? -E2BIG : 0;
  }

  // Drains up to maxBatchBytes and calls onBatch once if anything was read. Returns records read.
  uint32_t Drain(Napi::Env env, bool from_poll) {
    if (!rb_) return 0;
    batch_.clear();
    count_ = 0;
    int ret = ring_buffer__consume(rb_);
    if (ret < 0 && ret != -E2BIG) ThrowErrno(env, -ret, "ring_buffer__consume");
    uint32_t count = count_;
    if (count == 0) return 0;
    Napi::Buffer<uint8_t> buf =
        Napi::Buffer<uint8_t>::Copy(env, reinterpret_cast<const uint8_t*>(batch_.data()), batch_.size());
    if (from_poll) {
      callback_.MakeCallback(env.Global(), {buf, Napi::Number::New(env, count)});
    } else {
      callback_.Call({buf, Napi::Number::New(env, count)});
    }
    return count;
  }

  Napi::Value Consume(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), Drain(info.Env(), false));
  }

  static void OnPoll(uv_poll_t* handle, int status, int) {
    auto* self = static_cast<RingReader*>(handle->data);
    if (status < 0 || !self->rb_) return;
    Napi::Env env = self->Env();
    Napi::HandleScope scope(env);
    try {
      self->Drain(env, true);
    } catch (const Napi::Error& e) {
      e.ThrowAsJavaScriptException();
    }
  }

  // start(): also drain when the kernel signals (records submitted with wakeup).
  Napi::Value Start(const Napi::CallbackInfo& info) {
    if (!rb_ || polling_) return info.Env().Undefined();
    poll_ = StartReadPoll(info.Env(), ring_buffer__epoll_fd(rb_), this, &RingReader::OnPoll);
    polling_ = true;
    Ref();
    return info.Env().Undefined();
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    if (polling_) Unref();
    Release();
    return info.Env().Undefined();
  }

  void Release() {
    StopPoll(poll_);
    polling_ = false;
    if (rb_) {
      ring_buffer__free(rb_);
      rb_ = nullptr;
    }
  }

  Napi::FunctionReference callback_;
  ring_buffer* rb_ = nullptr;
  uv_poll_t* poll_ = nullptr;
  bool polling_ = false;
  uint32_t max_batch_ = 1u << 20;
  std::string batch_;
  uint32_t count_ = 0;
};

void InitRingbuf(Napi::Env env, Napi::Object exports) { exports.Set("RingReader", RingReader::Define(env)); }

}  // namespace ciliate
