// Network namespaces: switching the calling thread between them, and creating a named one kept alive
// by a bind mount (what `ip netns add` does, without a process).
#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <string>

#include "errors.h"

namespace ciliate {

// The calling thread's own network namespace file.
static const char* kThreadNetns = "/proc/thread-self/ns/net";

// setNetns(nsFd): moves the calling (main) thread into a network namespace, so that ifindexes and
// netlink sockets of following calls refer to it. Pair with a setNetns back to the original fd.
static Napi::Value SetNetns(const Napi::CallbackInfo& info) {
  if (setns(static_cast<int>(ArgU32(info, 0, "nsFd")), CLONE_NEWNET)) ThrowErrno(info.Env(), errno, "setns");
  return info.Env().Undefined();
}

// Makes folder dir (created when missing) a shared mount, bind-mounting it onto itself first when it is
// not a mount point, so that namespace mounts made in it show in every mount namespace that shares it.
static void ShareFolder(Napi::Env env, const std::string& dir) {
  if (mkdir(dir.c_str(), 0755) && errno != EEXIST) ThrowErrno(env, errno, "mkdir", dir);
  if (mount("", dir.c_str(), "none", MS_SHARED | MS_REC, nullptr) == 0) return;
  if (errno != EINVAL) ThrowErrno(env, errno, "mount", dir);
  if (mount(dir.c_str(), dir.c_str(), "none", MS_BIND | MS_REC, nullptr)) ThrowErrno(env, errno, "mount", dir);
  if (mount("", dir.c_str(), "none", MS_SHARED | MS_REC, nullptr)) ThrowErrno(env, errno, "mount", dir);
}

// netnsCreate(path): a new, empty network namespace bind-mounted at path (e.g. /run/netns/<name>, the
// folder shared as by ShareFolder); EEXIST when path is taken. The calling thread enters the new namespace
// only to mount it, and is back in its own when this returns or throws. On failure path is removed.
static Napi::Value NetnsCreate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsString()) throw Napi::TypeError::New(env, "path must be a string");
  std::string path = info[0].As<Napi::String>().Utf8Value();
  size_t slash = path.rfind('/');
  if (slash == std::string::npos || slash == 0 || slash + 1 == path.size())
    throw Napi::TypeError::New(env, "path must be an absolute file path below a folder");
  ShareFolder(env, path.substr(0, slash));

  int file = open(path.c_str(), O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0);
  if (file < 0) ThrowErrno(env, errno, "open", path);
  close(file);
  int self = open(kThreadNetns, O_RDONLY | O_CLOEXEC);
  if (self < 0) {
    int err = errno;
    unlink(path.c_str());
    ThrowErrno(env, err, "open", kThreadNetns);
  }
  if (unshare(CLONE_NEWNET)) {
    int err = errno;
    close(self);
    unlink(path.c_str());
    ThrowErrno(env, err, "unshare", "CLONE_NEWNET");
  }
  int mountErr = mount(kThreadNetns, path.c_str(), "none", MS_BIND, nullptr) ? errno : 0;
  int backErr = setns(self, CLONE_NEWNET) ? errno : 0;
  close(self);
  if (mountErr || backErr) {
    if (!mountErr) umount2(path.c_str(), MNT_DETACH);
    unlink(path.c_str());
    if (backErr) ThrowErrno(env, backErr, "setns", "back to the thread's namespace");
    ThrowErrno(env, mountErr, "mount", path);
  }
  return env.Undefined();
}

void InitNetns(Napi::Env env, Napi::Object exports) {
  exports.Set("setNetns", Napi::Function::New(env, SetNetns));
  exports.Set("netnsCreate", Napi::Function::New(env, NetnsCreate));
}

}  // namespace ciliate
