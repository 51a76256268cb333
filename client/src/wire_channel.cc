#include "client/src/wire_channel.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gssgate/v1/wire.pb.h"
#include "lib/util/protocol.h"
#include "lib/wire/frames.h"

namespace gssgate::internal {
namespace {

constexpr int kUnavailable = 14;       // grpc::StatusCode::UNAVAILABLE
constexpr int kDeadlineExceeded = 4;   // grpc::StatusCode::DEADLINE_EXCEEDED
constexpr int kResourceExhausted = 8;  // grpc::StatusCode::RESOURCE_EXHAUSTED
constexpr int kInternal = 13;          // grpc::StatusCode::INTERNAL
// As the gRPC transport's receive limit (connection.cc).
constexpr size_t kMaxReplyBytes = size_t{64} << 20;

int millis_until(std::chrono::system_clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - std::chrono::system_clock::now());
  return left.count() <= 0 ? 0 : static_cast<int>(std::min<int64_t>(left.count(), 1 << 30));
}

}  // namespace

WireChannel::~WireChannel() {
  if (fd_ >= 0) close(fd_);
}

void WireChannel::adopt(int fd) {
  std::lock_guard<std::timed_mutex> lock(mu_);
  close_locked();
  fd_ = fd;
}

void WireChannel::close_locked() {
  if (fd_ >= 0) close(fd_);
  fd_ = -1;
}

int WireChannel::connect_socket(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof(addr.sun_path)) {
    errno = ENAMETOOLONG;
    return -1;
  }
  std::memcpy(addr.sun_path, path.data(), path.size());
  const int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    const int why = errno;
    close(fd);
    errno = why;
    return -1;
  }
  // Room in the send buffer for the largest datagram, whatever net.core.wmem_default says.
  const int sndbuf = static_cast<int>(2 * kWireMaxDatagram);
  setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
  return fd;
}

bool WireChannel::connect_locked(Result* error) {
  if (fd_ >= 0) return true;
  fd_ = connect_socket(path_);
  if (fd_ < 0) {
    *error = {kUnavailable,
              absl::StrCat("cannot connect to the wire socket: ", std::strerror(errno))};
    return false;
  }
  return true;
}

bool WireChannel::send_locked(uint32_t number, uint64_t call_id, const std::string& payload,
                              const v1::Releases& releases) {
  std::vector<v1::Frame> frames = wire::fragment(number, call_id, payload);
  if (!releases.contexts().empty() || !releases.creds().empty()) {
    *frames.front().mutable_release() = releases;
  }
  for (const v1::Frame& frame : frames) {
    const std::string datagram = frame.SerializeAsString();
    ssize_t sent;
    do {
      sent = send(fd_, datagram.data(), datagram.size(), MSG_NOSIGNAL);
    } while (sent < 0 && errno == EINTR);
    if (sent < 0) return false;
  }
  return true;
}

WireChannel::Result WireChannel::call(uint32_t number, const google::protobuf::Message& request,
                                      const v1::Releases& releases,
                                      google::protobuf::Message* reply,
                                      std::chrono::system_clock::time_point deadline) {
  std::unique_lock<std::timed_mutex> lock(mu_, deadline);
  if (!lock.owns_lock()) {
    return {kDeadlineExceeded,
            "the connection's earlier calls did not finish before this call's deadline"};
  }
  Result error;
  if (!connect_locked(&error)) return error;
  const uint64_t call_id = next_call_id_++;
  const std::string payload = request.SerializeAsString();
  if (!send_locked(number, call_id, payload, releases)) {
    const int why = errno;
    close_locked();
    if (why == EMSGSIZE) {
      return {kResourceExhausted, "a request fragment does not fit the socket's send buffer"};
    }
    return {kUnavailable, absl::StrCat("the wire connection broke: ", std::strerror(why))};
  }
  std::vector<char> buffer(kWireMaxDatagram);
  std::string body;
  v1::Frame head;
  bool have_head = false;
  for (;;) {
    pollfd readable{fd_, POLLIN, 0};
    const int ready = poll(&readable, 1, millis_until(deadline));
    if (ready < 0 && errno == EINTR) continue;
    if (ready == 0) {
      // The reply may still come; the next call skips it by its call id.
      return {kDeadlineExceeded, "Deadline Exceeded"};
    }
    const ssize_t n = recv(fd_, buffer.data(), buffer.size(), MSG_TRUNC);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const std::string why = n == 0 ? "the daemon closed the connection" : std::strerror(errno);
      close_locked();
      return {kUnavailable, absl::StrCat("the wire connection broke: ", why)};
    }
    v1::Frame frame;
    if (static_cast<size_t>(n) > buffer.size() ||
        !frame.ParseFromArray(buffer.data(), static_cast<int>(n))) {
      close_locked();
      return {kInternal, "the daemon sent a datagram that is not a gssgate.v1.Frame"};
    }
    if (frame.call_id() != call_id) {
      if (frame.call_id() == 0 && frame.code() != 0) {
        // The daemon could not read our frame at all, and closes the connection.
        close_locked();
        return {static_cast<int>(frame.code()), frame.message()};
      }
      continue;  // the late reply of a call that timed out
    }
    const bool more = frame.continued();
    if (!have_head) {
      body = std::move(*frame.mutable_payload());
      head = std::move(frame);
      have_head = true;
    } else {
      body.append(frame.payload());
    }
    if (body.size() > kMaxReplyBytes) {
      close_locked();
      return {kResourceExhausted, absl::StrCat("the daemon's reply is longer than ",
                                               kMaxReplyBytes, " bytes")};
    }
    if (more) continue;
    break;
  }
  Result result{static_cast<int>(head.code()), head.message(), head.released(), head.not_run()};
  if (result.code == 0 && !reply->ParseFromString(body)) {
    return {kInternal, absl::StrCat("the daemon's reply is not a ", reply->GetTypeName())};
  }
  return result;
}

}  // namespace gssgate::internal
