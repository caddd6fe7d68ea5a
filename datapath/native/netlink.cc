// Route netlink sockets: open one in the calling thread's network namespace, and run one
// request/answer exchange on it. What the bytes mean is TypeScript's business (datapath/netlink).
#include <linux/netlink.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "errors.h"

namespace ciliate {

// How long one receive waits for the kernel before the exchange fails with EAGAIN.
static const int kReceiveTimeoutSeconds = 5;

// Receive buffer to start with; a larger datagram (seen by peeking) grows it.
static const size_t kInitialReceiveBytes = 32768;

// netlinkOpen() -> fd of a NETLINK_ROUTE socket bound to a kernel-chosen port. The socket belongs to the
// network namespace the calling thread is in now, for its whole life. Error answers carry the kernel's
// explanation (extended ack) but not the failed request's payload (capped ack).
static Napi::Value NetlinkOpen(const Napi::CallbackInfo& info) {
  int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
  if (fd < 0) ThrowErrno(info.Env(), errno, "socket", "netlink");
  sockaddr_nl local = {};
  local.nl_family = AF_NETLINK;
  if (bind(fd, reinterpret_cast<sockaddr*>(&local), sizeof(local))) {
    int err = errno;
    close(fd);
    ThrowErrno(info.Env(), err, "bind", "netlink");
  }
  int on = 1;
  // Both are optional refinements: kernels without them still answer, so failures are ignored.
  setsockopt(fd, SOL_NETLINK, NETLINK_EXT_ACK, &on, sizeof(on));
  setsockopt(fd, SOL_NETLINK, NETLINK_CAP_ACK, &on, sizeof(on));
  timeval timeout = {kReceiveTimeoutSeconds, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  return Napi::Number::New(info.Env(), fd);
}

// True when the datagram holds the last message of exchange seq: NLMSG_DONE or NLMSG_ERROR (an ack or
// an error) with that sequence number. A malformed datagram also ends the exchange, for TypeScript to reject.
static bool EndsExchange(const uint8_t* data, size_t len, uint32_t seq) {
  size_t off = 0;
  while (off + sizeof(nlmsghdr) <= len) {
    nlmsghdr hdr;
    memcpy(&hdr, data + off, sizeof(hdr));
    if (hdr.nlmsg_len < sizeof(nlmsghdr) || hdr.nlmsg_len > len - off) return true;
    if (hdr.nlmsg_seq == seq && (hdr.nlmsg_type == NLMSG_DONE || hdr.nlmsg_type == NLMSG_ERROR)) return true;
    off += NLMSG_ALIGN(hdr.nlmsg_len);
  }
  return false;
}

// Why an exchange failed: the errno and the syscall that returned it (0 and nullptr when it did not).
struct Failure {
  int err = 0;
  const char* syscall = nullptr;
};

// Receives one datagram from the kernel into buf (grown to fit), retrying on EINTR; sets n to its length,
// 0 for a datagram from another socket (dropped).
static Failure ReceiveDatagram(int fd, std::vector<uint8_t>& buf, size_t& n) {
  ssize_t got;
  do got = recv(fd, buf.data(), buf.size(), MSG_PEEK | MSG_TRUNC);
  while (got < 0 && errno == EINTR);
  if (got < 0) return {errno, "recv"};
  if (static_cast<size_t>(got) > buf.size()) buf.resize(static_cast<size_t>(got));
  sockaddr_nl from = {};
  socklen_t fromLen = sizeof(from);
  do got = recvfrom(fd, buf.data(), buf.size(), 0, reinterpret_cast<sockaddr*>(&from), &fromLen);
  while (got < 0 && errno == EINTR);
  if (got < 0) return {errno, "recvfrom"};
  n = from.nl_pid == 0 ? static_cast<size_t>(got) : 0;
  return {};
}

// Sends request and appends to answers every datagram received until the exchange named by the first
// message's sequence number ends. Touches no JavaScript value, so it may run on a worker thread.
static Failure Transact(int fd, const std::vector<uint8_t>& request, std::vector<uint8_t>& answers) {
  nlmsghdr first;
  memcpy(&first, request.data(), sizeof(first));
  sockaddr_nl kernel = {};
  kernel.nl_family = AF_NETLINK;
  ssize_t sent;
  do sent = sendto(fd, request.data(), request.size(), 0, reinterpret_cast<sockaddr*>(&kernel), sizeof(kernel));
  while (sent < 0 && errno == EINTR);
  if (sent < 0) return {errno, "sendto"};
  if (static_cast<size_t>(sent) != request.size()) return {EMSGSIZE, "sendto"};
  std::vector<uint8_t> buf(kInitialReceiveBytes);
  for (;;) {
    size_t n = 0;
    Failure failure = ReceiveDatagram(fd, buf, n);
    if (failure.err) return failure;
    answers.insert(answers.end(), buf.begin(), buf.begin() + static_cast<ptrdiff_t>(n));
    if (n && EndsExchange(buf.data(), n, first.nlmsg_seq)) return {};
  }
}

// Reads (fd, request) arguments; the request must hold at least one netlink header.
static std::vector<uint8_t> ArgRequest(const Napi::CallbackInfo& info) {
  Napi::Buffer<uint8_t> request = ArgBuf(info, 1, "request");
  if (request.Length() < sizeof(nlmsghdr)) throw Napi::TypeError::New(info.Env(), "request must hold a netlink message");
  return std::vector<uint8_t>(request.Data(), request.Data() + request.Length());
}

// netlinkTransact(fd, request) -> every byte the kernel sent until the exchange ended. request is one or
// more netlink messages; the first one's sequence number names the exchange, which must end in an ack
// (NLM_F_ACK) or NLMSG_DONE (a dump). Answers of earlier exchanges may precede; TypeScript skips them.
static Napi::Value NetlinkTransact(const Napi::CallbackInfo& info) {
  int fd = static_cast<int>(ArgU32(info, 0, "fd"));
  std::vector<uint8_t> request = ArgRequest(info);
  std::vector<uint8_t> answers;
  Failure failure = Transact(fd, request, answers);
  if (failure.err) ThrowErrno(info.Env(), failure.err, failure.syscall, "netlink");
  return Napi::Buffer<uint8_t>::Copy(info.Env(), answers.data(), answers.size());
}

// The same exchange on a libuv worker thread, for requests the kernel is slow to answer.
class TransactWorker : public Napi::AsyncWorker {
 public:
  TransactWorker(Napi::Env env, int fd, std::vector<uint8_t> request)
      : Napi::AsyncWorker(env), fd_(fd), request_(std::move(request)), deferred_(Napi::Promise::Deferred::New(env)) {}

  Napi::Promise Promise() const { return deferred_.Promise(); }

  void Execute() override { failure_ = Transact(fd_, request_, answers_); }

  void OnOK() override {
    if (failure_.err) deferred_.Reject(ErrnoError(Env(), failure_.err, failure_.syscall, "netlink").Value());
    else deferred_.Resolve(Napi::Buffer<uint8_t>::Copy(Env(), answers_.data(), answers_.size()));
  }

 private:
  int fd_;
  std::vector<uint8_t> request_;
  std::vector<uint8_t> answers_;
  Failure failure_;
  Napi::Promise::Deferred deferred_;
};

// netlinkTransactAsync(fd, request) -> Promise of what netlinkTransact returns, the exchange done on a
// worker thread. The socket must not be used otherwise until the promise settles.
static Napi::Value NetlinkTransactAsync(const Napi::CallbackInfo& info) {
  int fd = static_cast<int>(ArgU32(info, 0, "fd"));
  auto* worker = new TransactWorker(info.Env(), fd, ArgRequest(info));
  Napi::Promise promise = worker->Promise();
  worker->Queue();
  return promise;
}

void InitNetlink(Napi::Env env, Napi::Object exports) {
  exports.Set("netlinkOpen", Napi::Function::New(env, NetlinkOpen));
  exports.Set("netlinkTransact", Napi::Function::New(env, NetlinkTransact));
  exports.Set("netlinkTransactAsync", Napi::Function::New(env, NetlinkTransactAsync));
}

}  // namespace ciliate
