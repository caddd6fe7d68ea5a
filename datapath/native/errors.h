// Errors thrown to JavaScript in the shape of Node's fs errors (code, errno, syscall), plus helpers
// shared by every object kind: argument reading and the libbpf message capture.
#pragma once
#include <napi.h>
#include <string>

namespace ciliate {

// Builds an Error like fs does: message "CODE: description, syscall 'detail'", with
// code (errno name), errno (negative, as Node reports it) and syscall set. err is a positive errno.
Napi::Error ErrnoError(Napi::Env env, int err, const char* syscall, const std::string& detail = "");

// Throws ErrnoError as a JavaScript exception.
[[noreturn]] void ThrowErrno(Napi::Env env, int err, const char* syscall, const std::string& detail = "");

// Normalises a libbpf return (negative errno, or -1 with errno set) to a positive errno.
int LibbpfErr(int ret);

// Reads argument i as a uint32, throwing TypeError otherwise.
uint32_t ArgU32(const Napi::CallbackInfo& info, size_t i, const char* what);

// Reads argument i as a Buffer, throwing TypeError otherwise.
Napi::Buffer<uint8_t> ArgBuf(const Napi::CallbackInfo& info, size_t i, const char* what);

// Starts capturing libbpf's printed messages (replacing stderr output); TakeLibbpfLog returns and clears them.
void InstallLibbpfPrint();
std::string TakeLibbpfLog();

// Registers each object kind's functions on the module exports.
void InitObject(Napi::Env env, Napi::Object exports);
void InitMap(Napi::Env env, Napi::Object exports);
void InitProg(Napi::Env env, Napi::Object exports);
void InitLink(Napi::Env env, Napi::Object exports);
void InitRingbuf(Napi::Env env, Napi::Object exports);
void InitNetlink(Napi::Env env, Napi::Object exports);
void InitNetns(Napi::Env env, Napi::Object exports);
void InitUdpOrigDst(Napi::Env env, Napi::Object exports);
void InitSocket(Napi::Env env, Napi::Object exports);

}  // namespace ciliate
