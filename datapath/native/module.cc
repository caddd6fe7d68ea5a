// Module entry: registers every object kind's functions.
#include "errors.h"

namespace ciliate {

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  InstallLibbpfPrint();
  InitObject(env, exports);
  InitMap(env, exports);
  InitProg(env, exports);
  InitLink(env, exports);
  InitRingbuf(env, exports);
  InitNetlink(env, exports);
  InitNetns(env, exports);
  InitUdpOrigDst(env, exports);
  InitSocket(env, exports);
  return exports;
}

}  // namespace ciliate

static Napi::Object InitModule(Napi::Env env, Napi::Object exports) { return ciliate::Init(env, exports); }

NODE_API_MODULE(ciliate_bpf, InitModule)
