// A UDP socket for a transparent proxy: bound with IP_TRANSPARENT (it receives datagrams the node's
// TPROXY rule or bpf_sk_assign hands it for addresses that are not the node's), reporting each
// datagram's original destination (IP_RECVORIGDSTADDR), read inside Node's event loop (uv_poll);
// and answers sent from that original destination, so the client sees its server reply. Node's
// dgram module can neither set these options nor read the original destination.
//
// Answers leave through a transparent socket bound to their source (the original destination),
// kept for the next answer from that address and port: at most kMaxSenders, the oldest closed
// first. They are never connected and receive nothing (the redirect hands every datagram for the
// original destination to the listening socket).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <deque>
#include <string>
#include <unordered_map>

#include "errors.h"
#include "transparent-socket.h"
#include "poll.h"

namespace ciliate {

// A non-blocking transparent UDP socket bound to addr:port, marked when mark != 0; throws on failure.
static int TransparentUdp(Napi::Env env, in_addr addr, uint32_t port, uint32_t mark, bool origdst) {
  int fd = TransparentSocket(env, SOCK_DGRAM, mark, origdst);
  sockaddr_in sa = Ipv4SockAddr(addr, port);
  if (bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa))) {
    int err = errno;
    close(fd);
    char text[INET_ADDRSTRLEN] = "";
    inet_ntop(AF_INET, &addr, text, sizeof(text));
    ThrowErrno(env, err, "bind", std::string(text) + ":" + std::to_string(port));
  }
  return fd;
}

class OrigDstUdp : public Napi::ObjectWrap<OrigDstUdp> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "OrigDstUdp",
                       {InstanceMethod("sendFrom", &OrigDstUdp::SendFrom), InstanceMethod("close", &OrigDstUdp::Close),
                        InstanceMethod("port", &OrigDstUdp::Port)});
  }

  // new OrigDstUdp(ip, port, mark, onDatagram(data, srcIp, srcPort, dstIp, dstPort))
  explicit OrigDstUdp(const Napi::CallbackInfo& info) : Napi::ObjectWrap<OrigDstUdp>(info) {
    Napi::Env env = info.Env();
    in_addr ip = ArgIPv4(info, 0, "ip");
    uint32_t port = ArgU32(info, 1, "port");
    if (port > 65535) throw Napi::RangeError::New(env, "port must be 0-65535");
    mark_ = ArgU32(info, 2, "mark");
    if (info.Length() < 4 || !info[3].IsFunction()) throw Napi::TypeError::New(env, "onDatagram must be a function");
    callback_ = Napi::Persistent(info[3].As<Napi::Function>());
    fd_ = TransparentUdp(env, ip, port, mark_, true);
    try {
      poll_ = StartReadPoll(env, fd_, this, &OrigDstUdp::OnReadable);
    } catch (...) {
      close(fd_);
      fd_ = -1;
      throw;
    }
    Ref();
  }

  ~OrigDstUdp() override { Release(); }

 private:
  // Reads what is queued (at most a bounded number per wakeup, so other work runs) and hands each
  // datagram to JavaScript with its source and original destination.
  static void OnReadable(uv_poll_t* handle, int status, int) {
    auto* self = static_cast<OrigDstUdp*>(handle->data);
    if (status < 0 || self->fd_ < 0) return;
    Napi::Env env = self->Env();
    Napi::HandleScope scope(env);
    for (int i = 0; i < 64 && self->fd_ >= 0; i++) {
      uint8_t data[65536];
      char control[CMSG_SPACE(sizeof(sockaddr_in))];
      sockaddr_in src{};
      iovec iov{data, sizeof(data)};
      msghdr msg{};
      msg.msg_name = &src;
      msg.msg_namelen = sizeof(src);
      msg.msg_iov = &iov;
      msg.msg_iovlen = 1;
      msg.msg_control = control;
      msg.msg_controllen = sizeof(control);
      ssize_t n = recvmsg(self->fd_, &msg, 0);
      if (n < 0) return;  // EAGAIN: drained (other errors: the next wakeup tries again)
      sockaddr_in dst{};
      for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level == SOL_IP && c->cmsg_type == IP_ORIGDSTADDR) std::memcpy(&dst, CMSG_DATA(c), sizeof(dst));
      }
      char s[INET_ADDRSTRLEN] = "", d[INET_ADDRSTRLEN] = "";
      inet_ntop(AF_INET, &src.sin_addr, s, sizeof(s));
      inet_ntop(AF_INET, &dst.sin_addr, d, sizeof(d));
      try {
        self->callback_.MakeCallback(env.Global(), {
          Napi::Buffer<uint8_t>::Copy(env, data, static_cast<size_t>(n)), Napi::String::New(env, s), Napi::Number::New(env, ntohs(src.sin_port)),
          Napi::String::New(env, d), Napi::Number::New(env, ntohs(dst.sin_port)),
        });
      } catch (const Napi::Error& e) {
        e.ThrowAsJavaScriptException();
        return;
      }
    }
  }

  // sendFrom(fromIp, fromPort, toIp, toPort, data): sends data to toIp:toPort with fromIp:fromPort
  // (a datagram's original destination) as its source, through a transparent socket bound there.
  Napi::Value SendFrom(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    in_addr from = ArgIPv4(info, 0, "fromIp");
    uint32_t from_port = ArgU32(info, 1, "fromPort");
    in_addr to = ArgIPv4(info, 2, "toIp");
    uint32_t to_port = ArgU32(info, 3, "toPort");
    Napi::Buffer<uint8_t> data = ArgBuf(info, 4, "data");
    if (from_port > 65535 || to_port > 65535) throw Napi::RangeError::New(env, "ports must be 0-65535");
    uint64_t key = (static_cast<uint64_t>(from.s_addr) << 16) | from_port;
    // Once closed, an answer still due gets a socket of its own, closed at once.
    bool keep = fd_ >= 0;
    int fd = keep ? SenderFor(env, key, from, from_port) : TransparentUdp(env, from, from_port, mark_, false);
    sockaddr_in sa = Ipv4SockAddr(to, to_port);
    ssize_t n = sendto(fd, data.Data(), data.Length(), 0, reinterpret_cast<sockaddr*>(&sa), sizeof(sa));
    int err = errno;
    // A socket that failed is not trusted with the next answer.
    if (!keep) close(fd);
    else if (n < 0) DropSender(key);
    if (n < 0) ThrowErrno(env, err, "sendto");
    return env.Undefined();
  }

  // The kept socket bound to from:port, made (and the oldest closed beyond kMaxSenders) when missing.
  int SenderFor(Napi::Env env, uint64_t key, in_addr from, uint32_t from_port) {
    auto found = senders_.find(key);
    if (found != senders_.end()) return found->second;
    int fd = TransparentUdp(env, from, from_port, mark_, false);
    while (senders_.size() >= kMaxSenders && !order_.empty()) {
      DropSender(order_.front());
    }
    senders_.emplace(key, fd);
    order_.push_back(key);
    return fd;
  }

  void DropSender(uint64_t key) {
    auto found = senders_.find(key);
    if (found == senders_.end()) return;
    close(found->second);
    senders_.erase(found);
    for (auto it = order_.begin(); it != order_.end(); ++it) {
      if (*it == key) {
        order_.erase(it);
        break;
      }
    }
  }

  // port(): the bound port (useful when bound to 0).
  Napi::Value Port(const Napi::CallbackInfo& info) {
    sockaddr_in sa{};
    socklen_t len = sizeof(sa);
    if (fd_ < 0 || getsockname(fd_, reinterpret_cast<sockaddr*>(&sa), &len)) ThrowErrno(info.Env(), fd_ < 0 ? EBADF : errno, "getsockname");
    return Napi::Number::New(info.Env(), ntohs(sa.sin_port));
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    if (fd_ >= 0) Unref();
    Release();
    return info.Env().Undefined();
  }

  void Release() {
    for (auto& [key, fd] : senders_) close(fd);
    senders_.clear();
    order_.clear();
    StopPoll(poll_);
    if (fd_ >= 0) {
      close(fd_);
      fd_ = -1;
    }
  }

  static constexpr size_t kMaxSenders = 64;

  Napi::FunctionReference callback_;
  // Kept answer sockets by source (address << 16 | port), and their order of making.
  std::unordered_map<uint64_t, int> senders_;
  std::deque<uint64_t> order_;
  uv_poll_t* poll_ = nullptr;
  int fd_ = -1;
  uint32_t mark_ = 0;
};

void InitUdpOrigDst(Napi::Env env, Napi::Object exports) { exports.Set("OrigDstUdp", OrigDstUdp::Define(env)); }

}  // namespace ciliate
