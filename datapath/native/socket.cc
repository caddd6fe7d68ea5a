// Transparent sockets for the node's L7 proxies: a listener that accepts connections the datapath
// hands it for addresses that are not the node's (IP_TRANSPARENT), and outgoing connections made
// from another host's address, each with a socket mark the datapath recognises (SO_MARK).
// Node's net module cannot set these options, so the fds are made here and adopted by net.Socket.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <string>

#include "errors.h"
#include "transparent-socket.h"

namespace ciliate {

// transparentListen(ip, port, proto 'tcp'|'udp', mark): a bound transparent socket (listening when
// TCP) that receives what the node's TPROXY rule or the datapath assigns to it; returns its fd.
static Napi::Value TransparentListen(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  in_addr ip = ArgIPv4(info, 0, "ip");
  uint32_t port = ArgU32(info, 1, "port");
  std::string proto = info.Length() > 2 && info[2].IsString() ? info[2].As<Napi::String>().Utf8Value() : "";
  if (proto != "tcp" && proto != "udp") throw Napi::TypeError::New(env, "proto must be 'tcp' or 'udp'");
  uint32_t mark = ArgU32(info, 3, "mark");
  if (port == 0 || port > 65535) throw Napi::RangeError::New(env, "port must be 1-65535");
  int fd = TransparentSocket(env, proto == "tcp" ? SOCK_STREAM : SOCK_DGRAM, mark, proto != "tcp");
  sockaddr_in sa = Ipv4SockAddr(ip, port);
  if (bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) || (proto == "tcp" && listen(fd, 1024))) {
    int err = errno;
    close(fd);
    ThrowErrno(env, err, "bind/listen", std::to_string(port));
  }
  return Napi::Number::New(env, fd);
}

// transparentConnect(srcIp, srcPort, dstIp, dstPort, mark): a TCP socket bound to srcIp:srcPort (any
// address; "" = the node's choice, port 0 = any), marked, whose connect to dstIp:dstPort is under way
// (or done); returns its fd.
static Napi::Value TransparentConnect(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  in_addr src = ArgIPv4(info, 0, "srcIp");
  uint32_t srcPort = ArgU32(info, 1, "srcPort");
  in_addr dst = ArgIPv4(info, 2, "dstIp");
  uint32_t port = ArgU32(info, 3, "dstPort");
  uint32_t mark = ArgU32(info, 4, "mark");
  if (srcPort > 65535 || port == 0 || port > 65535) throw Napi::RangeError::New(env, "ports must be 0-65535 (dstPort 1-65535)");
  int fd = TransparentSocket(env, SOCK_STREAM, mark, false);
  sockaddr_in from = Ipv4SockAddr(src, srcPort);
  if (src.s_addr && bind(fd, reinterpret_cast<sockaddr*>(&from), sizeof(from))) {
    int err = errno;
    close(fd);
    ThrowErrno(env, err, "bind", info[0].As<Napi::String>().Utf8Value());
  }
  sockaddr_in to = Ipv4SockAddr(dst, port);
  if (connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof(to)) && errno != EINPROGRESS) {
    int err = errno;
    close(fd);
    ThrowErrno(env, err, "connect", info[2].As<Napi::String>().Utf8Value());
  }
  return Napi::Number::New(env, fd);
}

void InitSocket(Napi::Env env, Napi::Object exports) {
  exports.Set("transparentListen", Napi::Function::New(env, TransparentListen));
  exports.Set("transparentConnect", Napi::Function::New(env, TransparentConnect));
}

}  // namespace ciliate
