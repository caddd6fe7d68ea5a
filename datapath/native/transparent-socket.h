// Pieces both transparent-socket sources share: IPv4 arguments, socket addresses, and a socket with
// IP_TRANSPARENT (it may own addresses that are not the node's), SO_REUSEADDR, the datapath's mark
// (SO_MARK) and, for UDP, each datagram's original destination (IP_RECVORIGDSTADDR).
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <string>

#include "errors.h"

namespace ciliate {

// Parses argument i as a dotted IPv4 address ("" = any).
inline in_addr ArgIPv4(const Napi::CallbackInfo& info, size_t i, const char* what) {
  if (info.Length() <= i || !info[i].IsString()) throw Napi::TypeError::New(info.Env(), std::string(what) + " must be a string");
  std::string s = info[i].As<Napi::String>().Utf8Value();
  in_addr a{};
  if (s.empty()) return a;
  if (inet_pton(AF_INET, s.c_str(), &a) != 1) throw Napi::TypeError::New(info.Env(), std::string(what) + " is not an IPv4 address: " + s);
  return a;
}

// The socket address of a:port.
inline sockaddr_in Ipv4SockAddr(in_addr a, uint32_t port) {
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr = a;
  sa.sin_port = htons(static_cast<uint16_t>(port));
  return sa;
}

// A non-blocking, close-on-exec IPv4 socket of type with IP_TRANSPARENT, SO_REUSEADDR, the mark
// (when not 0) and, when origdst, IP_RECVORIGDSTADDR; throws naming the option that failed.
inline int TransparentSocket(Napi::Env env, int type, uint32_t mark, bool origdst) {
  int fd = socket(AF_INET, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) ThrowErrno(env, errno, "socket");
  int one = 1;
  const char* failed = nullptr;
  if (setsockopt(fd, SOL_IP, IP_TRANSPARENT, &one, sizeof(one))) failed = "setsockopt IP_TRANSPARENT";
  else if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one))) failed = "setsockopt SO_REUSEADDR";
  else if (mark && setsockopt(fd, SOL_SOCKET, SO_MARK, &mark, sizeof(mark))) failed = "setsockopt SO_MARK";
  else if (origdst && setsockopt(fd, SOL_IP, IP_RECVORIGDSTADDR, &one, sizeof(one))) failed = "setsockopt IP_RECVORIGDSTADDR";
  if (failed) {
    int err = errno;
    close(fd);
    ThrowErrno(env, err, failed);
  }
  return fd;
}

}  // namespace ciliate
