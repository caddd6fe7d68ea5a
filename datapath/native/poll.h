// Watching a file descriptor for readability inside Node's own event loop (uv_poll), shared by the
// readers that hand kernel data to JavaScript as it arrives.
#pragma once
#include <napi.h>
#include <uv.h>

#include "errors.h"

namespace ciliate {

// Starts calling cb (with handle->data = owner) whenever fd is readable; throws on failure.
inline uv_poll_t* StartReadPoll(Napi::Env env, int fd, void* owner, uv_poll_cb cb) {
  uv_loop_t* loop = nullptr;
  napi_get_uv_event_loop(env, &loop);
  auto* poll = new uv_poll_t;
  poll->data = owner;
  int ret = uv_poll_init(loop, poll, fd);
  if (ret) {
    delete poll;
    ThrowErrno(env, -ret, "uv_poll_init");
  }
  uv_poll_start(poll, UV_READABLE, cb);
  return poll;
}

// Stops and frees a poll handle (freed once the loop lets go of it); sets it to null.
inline void StopPoll(uv_poll_t*& poll) {
  if (!poll) return;
  uv_poll_stop(poll);
  uv_close(reinterpret_cast<uv_handle_t*>(poll), [](uv_handle_t* h) { delete reinterpret_cast<uv_poll_t*>(h); });
  poll = nullptr;
}

}  // namespace ciliate
