#include "daemon/wire_server.h"

#include <poll.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "google/protobuf/descriptor.h"
#include "lib/util/protocol.h"
#include "lib/wire/frames.h"
#include "spdlog/spdlog.h"

namespace gssgate::daemon {
namespace {

// How long a reply may wait for the caller to make room (it sends a long reply's fragments while
// the caller reads them); a caller that stops reading that long is disconnected.
constexpr int kSendTimeoutMs = 10'000;

template <typename Request, typename Reply, Rpc kId,
          absl::Status (Service::*kHandler)(const Call&, const Request&, Reply*)>
WireMethods::Reply invoke(Dispatcher& dispatcher, const Peer& peer, std::string_view payload,
                          const char* rpc) {
  Request request;
  if (!request.ParseFromArray(payload.data(), static_cast<int>(payload.size()))) {
    return {absl::InvalidArgumentError(absl::StrCat(
        "the payload of a ", rpc, " call is not a ", Request::descriptor()->full_name()))};
  }
  Reply reply;
  Dispatcher::Result result = dispatcher.run(kId, rpc, peer, request, &reply, kHandler);
  WireMethods::Reply out{std::move(result.status), result.not_run, {}};
  if (out.status.ok()) reply.SerializeToString(&out.payload);
  return out;
}

}  // namespace

const WireMethods& WireMethods::get() {
  static const WireMethods* methods = new WireMethods();
  return *methods;
}

WireMethods::WireMethods() {
  using Typed = Reply (*)(Dispatcher&, const Peer&, std::string_view, const char*);
  absl::flat_hash_map<std::string, Typed> by_name;
#define GSSGATE_WIRE_METHOD(Name)                                                  \
  by_name[#Name] = &invoke<v1::Name##Request, v1::Name##Reply, Rpc::k##Name, \
                           &Service::Name>;
  GSSGATE_RPCS(GSSGATE_WIRE_METHOD)
#undef GSSGATE_WIRE_METHOD
  const google::protobuf::ServiceDescriptor* service =
      v1::ImportNameRequest::descriptor()->file()->FindServiceByName("Gssgate");
  if (service == nullptr || static_cast<size_t>(service->method_count()) != by_name.size()) {
    spdlog::critical("the wire method table does not match service gssgate.v1.Gssgate");
    std::abort();
  }
  for (int i = 0; i < service->method_count(); ++i) {
    auto it = by_name.find(service->method(i)->name());
    if (it == by_name.end()) {
      spdlog::critical("gssgate.v1.Gssgate.{} has no handler", service->method(i)->name());
      std::abort();
    }
    typed_.push_back(it->second);
    names_.push_back(service->method(i)->name());
  }
}

WireMethods::Reply WireMethods::call(Dispatcher& dispatcher, const Peer& peer, uint32_t number,
                                     std::string_view request) const {
  if (number == 0 || number > typed_.size()) {
    return {absl::UnimplementedError(
        absl::StrCat("method ", number, " is unknown to this gssgated (it serves 1 to ",
                     typed_.size(), "); the client is newer than the daemon"))};
  }
  return typed_[number - 1](dispatcher, peer, request, names_[number - 1].c_str());
}

std::string_view WireMethods::name(uint32_t number) const {
  if (number == 0 || number > names_.size()) return {};
  return names_[number - 1];
}

std::vector<std::string> WireSession::reply_datagrams(uint32_t method, uint64_t call_id,
                                                      const absl::Status& status,
                                                      std::string_view payload, bool not_run,
                                                      bool released) {
  std::vector<v1::Frame> frames = wire::fragment(method, call_id, payload);
  frames.front().set_code(static_cast<uint32_t>(status.code()));
  frames.front().set_message(std::string(status.message()));
  frames.front().set_not_run(not_run);
  frames.front().set_released(released);
  std::vector<std::string> out;
  out.reserve(frames.size());
  for (const v1::Frame& frame : frames) out.push_back(frame.SerializeAsString());
  return out;
}

void WireSession::reset() {
  assembling_ = false;
  oversize_ = false;
  first_.Clear();
  payload_.clear();
  if (payload_.capacity() > kWireMaxDatagram) payload_.shrink_to_fit();
}

WireSession::Output WireSession::fail(uint32_t method, uint64_t call_id,
                                      const absl::Status& status, bool close) {
  reset();
  return {reply_datagrams(method, call_id, status, {}, false, false), close};
}

WireSession::Output WireSession::feed(const Peer& peer, std::string_view datagram,
                                      bool truncated) {
  if (truncated) {
    return fail(0, 0,
                absl::ResourceExhaustedError(absl::StrCat(
                    "a datagram longer than ", kWireMaxDatagram,
                    " bytes; gssgate's wire protocol sends longer messages as fragments "
                    "(docs/wire.md)")),
                true);
  }
  v1::Frame frame;
  if (!frame.ParseFromArray(datagram.data(), static_cast<int>(datagram.size()))) {
    return fail(0, 0,
                absl::InvalidArgumentError(
                    "not a gssgate.v1.Frame: this socket speaks gssgate's wire protocol "
                    "(docs/wire.md); gRPC callers use gssgated's gRPC socket"),
                true);
  }
  if (assembling_ && frame.call_id() != first_.call_id()) {
    const uint64_t expected = first_.call_id();
    return fail(frame.method(), frame.call_id(),
                absl::InvalidArgumentError(absl::StrCat("call ", frame.call_id(),
                                                        " began while fragments of call ",
                                                        expected, " were still due")),
                true);
  }
  const bool more = frame.continued();
  if (!assembling_) {
    assembling_ = true;
    payload_.swap(*frame.mutable_payload());
    first_ = std::move(frame);
  } else if (!oversize_) {
    payload_.append(frame.payload());
  }
  if (payload_.size() > static_cast<size_t>(max_message_bytes_)) {
    // Refused once its last fragment is in; what arrives until then is dropped.
    oversize_ = true;
    payload_.clear();
  }
  if (more) return {};

  const uint32_t method = first_.method();
  const uint64_t call_id = first_.call_id();
  const WireMethods& methods = WireMethods::get();
  bool released = false;
  const v1::Releases& releases = first_.release();
  if (!releases.contexts().empty() || !releases.creds().empty()) {
    std::string rpc(methods.name(method).empty() ? "unknown method" : methods.name(method));
    absl::Status status = dispatcher_->release(peer, rpc.c_str(), releases);
    if (!status.ok()) return fail(method, call_id, status, false);
    released = true;
  }
  if (oversize_) {
    reset();
    return {reply_datagrams(
                method, call_id,
                absl::ResourceExhaustedError(absl::StrCat(
                    "the request is longer than max_message_bytes (", max_message_bytes_,
                    " bytes); send less per call, or raise max_message_bytes in [daemon]")),
                {}, false, released),
            false};
  }
  WireMethods::Reply reply = methods.call(*dispatcher_, peer, method, payload_);
  reset();
  if (reply.status.ok() && reply.payload.size() > static_cast<size_t>(max_message_bytes_)) {
    reply.status = absl::ResourceExhaustedError(
        absl::StrCat("the reply (", reply.payload.size(), " bytes) is longer than "
                     "max_message_bytes (", max_message_bytes_,
                     " bytes); ask for less per call, or raise max_message_bytes in [daemon]"));
    reply.payload.clear();
  }
  return {reply_datagrams(method, call_id, reply.status, reply.payload, reply.not_run, released),
          false};
}

WireServer::WireServer(Dispatcher* dispatcher, PeerOf peer_of, int max_message_bytes,
                       int min_threads, int max_threads)
    : dispatcher_(dispatcher),
      peer_of_(std::move(peer_of)),
      max_message_bytes_(max_message_bytes),
      min_threads_(std::max(1, min_threads)),
      max_threads_(std::max(std::max(1, min_threads), max_threads)) {}

WireServer::~WireServer() { stop(); }

void WireServer::start() {
  epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
  stop_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  epoll_event ev{};
  ev.events = EPOLLIN;  // level-triggered and never read: once written, it wakes every worker
  ev.data.ptr = nullptr;
  epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, stop_fd_, &ev);
  absl::MutexLock lock(&mu_);
  for (int i = 0; i < min_threads_; ++i) spawn_locked();
}

void WireServer::spawn_locked() {
  ++idle_;
  workers_.emplace_back([this] { work(); });
}

void WireServer::add(int fd) {
  // Room in the send buffer for the largest datagram, whatever net.core.wmem_default says.
  const int sndbuf = static_cast<int>(2 * kWireMaxDatagram);
  setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
  auto conn = std::make_unique<Conn>(Conn{fd, WireSession(dispatcher_, max_message_bytes_)});
  Conn* raw = conn.get();
  {
    absl::MutexLock lock(&mu_);
    conns_[raw] = std::move(conn);
  }
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLRDHUP | EPOLLONESHOT;
  ev.data.ptr = raw;
  if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) != 0) {
    spdlog::warn("wire: epoll_ctl: {}; connection closed", std::strerror(errno));
    drop(raw);
  }
}

void WireServer::work() {
  std::vector<char> buffer(kWireMaxDatagram);
  for (;;) {
    epoll_event ev{};
    const int n = epoll_wait(epoll_fd_, &ev, 1, -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      spdlog::error("wire: epoll_wait: {}", std::strerror(errno));
      return;
    }
    if (n == 0) continue;
    if (ev.data.ptr == nullptr || stopping_.load()) return;
    if (idle_.fetch_sub(1) == 1) {
      // The last idle worker starts another, up to max_threads, so a call that waits on a slow
      // KDC never holds up the calls of other connections (as gRPC's sync server does).
      absl::MutexLock lock(&mu_);
      if (static_cast<int>(workers_.size()) < max_threads_ && !stopping_.load()) spawn_locked();
    }
    Conn* conn = static_cast<Conn*>(ev.data.ptr);
    if (serve(conn, &buffer)) {
      ev.events = EPOLLIN | EPOLLRDHUP | EPOLLONESHOT;
      if (epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, conn->fd, &ev) != 0) drop(conn);
    } else {
      drop(conn);
    }
    idle_.fetch_add(1);
  }
}

bool WireServer::serve(Conn* conn, std::vector<char>* buffer) {
  for (;;) {
    const ssize_t n = recv(conn->fd, buffer->data(), buffer->size(), MSG_DONTWAIT | MSG_TRUNC);
    if (n == 0) return false;  // the caller closed its end
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno == EAGAIN || errno == EWOULDBLOCK;
    }
    std::optional<Peer> peer = peer_of_(conn->fd);
    if (!peer) {
      // The listener dropped the connection (a timeout) while the datagram was on its way.
      send_all(conn->fd, WireSession::reply_datagrams(
                             0, 0,
                             absl::UnavailableError("caller identity unknown; reconnect"), {},
                             false, false));
      return false;
    }
    const bool truncated = static_cast<size_t>(n) > buffer->size();
    WireSession::Output out = conn->session.feed(
        *peer, std::string_view(buffer->data(), truncated ? buffer->size() : n), truncated);
    if (out.datagrams.empty()) continue;  // a fragment: the rest is on its way
    if (!send_all(conn->fd, out.datagrams)) return false;
    if (out.close) {
      spdlog::warn("wire: connection {} (uid={} pid={}) does not speak gssgate's wire protocol; "
                   "closed",
                   peer->connection, peer->uid, peer->pid);
      return false;
    }
    // One call per wake-up: epoll fires again at once if the caller sent more.
    return true;
  }
}

bool WireServer::send_all(int fd, const std::vector<std::string>& datagrams) {
  for (const std::string& datagram : datagrams) {
    for (;;) {
      if (send(fd, datagram.data(), datagram.size(), MSG_DONTWAIT | MSG_NOSIGNAL) >= 0) break;
      if (errno == EINTR) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) return false;  // the caller is gone
      pollfd room{fd, POLLOUT, 0};
      if (poll(&room, 1, kSendTimeoutMs) <= 0) {
        spdlog::warn("wire: a caller read no reply for {} ms; connection closed",
                     kSendTimeoutMs);
        return false;
      }
    }
  }
  return true;
}

void WireServer::drop(Conn* conn) {
  epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, conn->fd, nullptr);
  // Shut down first: the listener's duplicate of the socket then sees EPOLLRDHUP and releases the
  // connection's handles, even while the caller keeps its end open.
  shutdown(conn->fd, SHUT_RDWR);
  close(conn->fd);
  absl::MutexLock lock(&mu_);
  conns_.erase(conn);
}

void WireServer::stop() {
  if (epoll_fd_ < 0) return;
  stopping_.store(true);
  uint64_t one = 1;
  ssize_t ignored = write(stop_fd_, &one, sizeof(one));
  (void)ignored;
  std::vector<std::thread> workers;
  {
    absl::MutexLock lock(&mu_);
    workers.swap(workers_);
  }
  for (std::thread& worker : workers) worker.join();
  absl::flat_hash_map<Conn*, std::unique_ptr<Conn>> conns;
  {
    absl::MutexLock lock(&mu_);
    conns.swap(conns_);
  }
  for (auto& [raw, conn] : conns) {
    shutdown(conn->fd, SHUT_RDWR);
    close(conn->fd);
  }
  close(epoll_fd_);
  close(stop_fd_);
  epoll_fd_ = stop_fd_ = -1;
}

}  // namespace gssgate::daemon
