// Attachments: tcx links (raw bpf_link_create, libbpf 1.1 predates tcx), clsact filters, cgroup links,
// and link update/detach.
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <cerrno>

#include "errors.h"

namespace ciliate {

// Kernel attach types newer than Debian 12's uapi headers.
static const int kTcxIngress = 46;
static const int kTcxEgress = 47;

static bool ArgIngress(const Napi::CallbackInfo& info, size_t i) {
  std::string dir = info[i].As<Napi::String>().Utf8Value();
  if (dir != "ingress" && dir != "egress") throw Napi::TypeError::New(info.Env(), "direction must be ingress|egress");
  return dir == "ingress";
}

// tcxAttach(progFd, ifindex, 'ingress'|'egress') -> link fd
static Napi::Value TcxAttach(const Napi::CallbackInfo& info) {
  int prog = static_cast<int>(ArgU32(info, 0, "progFd"));
  int ifindex = static_cast<int>(ArgU32(info, 1, "ifindex"));
  int type = ArgIngress(info, 2) ? kTcxIngress : kTcxEgress;
  int fd = bpf_link_create(prog, ifindex, static_cast<bpf_attach_type>(type), nullptr);
  if (fd < 0) ThrowErrno(info.Env(), LibbpfErr(fd), "bpf_link_create", "tcx");
  return Napi::Number::New(info.Env(), fd);
}

// cgroupAttach(progFd, cgroupFd, attachType) -> link fd
static Napi::Value CgroupAttach(const Napi::CallbackInfo& info) {
  int prog = static_cast<int>(ArgU32(info, 0, "progFd"));
  int cg = static_cast<int>(ArgU32(info, 1, "cgroupFd"));
  auto type = static_cast<bpf_attach_type>(ArgU32(info, 2, "attachType"));
  int fd = bpf_link_create(prog, cg, type, nullptr);
  if (fd < 0) ThrowErrno(info.Env(), LibbpfErr(fd), "bpf_link_create", "cgroup");
  return Napi::Number::New(info.Env(), fd);
}

// linkUpdate(linkFd, newProgFd): swaps the program atomically; the hook is never empty.
static Napi::Value LinkUpdate(const Napi::CallbackInfo& info) {
  int ret = bpf_link_update(static_cast<int>(ArgU32(info, 0, "linkFd")),
                            static_cast<int>(ArgU32(info, 1, "progFd")), nullptr);
  if (ret) ThrowErrno(info.Env(), LibbpfErr(ret), "bpf_link_update");
  return info.Env().Undefined();
}

// linkDetach(linkFd): detaches even when the link is pinned or shared.
static Napi::Value LinkDetach(const Napi::CallbackInfo& info) {
  int ret = bpf_link_detach(static_cast<int>(ArgU32(info, 0, "linkFd")));
  if (ret) ThrowErrno(info.Env(), LibbpfErr(ret), "bpf_link_detach");
  return info.Env().Undefined();
}

static bpf_tc_hook MakeHook(const Napi::CallbackInfo& info) {
  bpf_tc_hook hook = {};
  hook.sz = sizeof(hook);
  hook.ifindex = static_cast<int>(ArgU32(info, 0, "ifindex"));
  hook.attach_point = ArgIngress(info, 1) ? BPF_TC_INGRESS : BPF_TC_EGRESS;
  return hook;
}

// tcAttach(ifindex, dir, progFd, handle, priority): clsact filter; replaces the program at the same
// handle/priority in place, so the hook is never empty. Creates the clsact qdisc when absent.
static Napi::Value TcAttach(const Napi::CallbackInfo& info) {
  bpf_tc_hook hook = MakeHook(info);
  int ret = bpf_tc_hook_create(&hook);
  if (ret && ret != -EEXIST) ThrowErrno(info.Env(), LibbpfErr(ret), "bpf_tc_hook_create");
  bpf_tc_opts opts = {};
  opts.sz = sizeof(opts);
  opts.prog_fd = static_cast<int>(ArgU32(info, 2, "progFd"));
  opts.handle = ArgU32(info, 3, "handle");
  opts.priority = ArgU32(info, 4, "priority");
  opts.flags = BPF_TC_F_REPLACE;
  ret = bpf_tc_attach(&hook, &opts);
  if (ret) ThrowErrno(info.Env(), LibbpfErr(ret), "bpf_tc_attach");
  return info.Env().Undefined();
}

// tcDetach(ifindex, dir, handle, priority): missing filter = success.
static Napi::Value TcDetach(const Napi::CallbackInfo& info) {
  bpf_tc_hook hook = MakeHook(info);
  bpf_tc_opts opts = {};
  opts.sz = sizeof(opts);
  opts.handle = ArgU32(info, 2, "handle");
  opts.priority = ArgU32(info, 3, "priority");
  int ret = bpf_tc_detach(&hook, &opts);
  if (ret && ret != -ENOENT && ret != -EINVAL) ThrowErrno(info.Env(), LibbpfErr(ret), "bpf_tc_detach");
  return info.Env().Undefined();
}

void InitLink(Napi::Env env, Napi::Object exports) {
  exports.Set("tcxAttach", Napi::Function::New(env, TcxAttach));
  exports.Set("cgroupAttach", Napi::Function::New(env, CgroupAttach));
  exports.Set("linkUpdate", Napi::Function::New(env, LinkUpdate));
  exports.Set("linkDetach", Napi::Function::New(env, LinkDetach));
  exports.Set("tcAttach", Napi::Function::New(env, TcAttach));
  exports.Set("tcDetach", Napi::Function::New(env, TcDetach));
}

}  // namespace ciliate
