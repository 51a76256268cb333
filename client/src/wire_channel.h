#pragma once

// Internal to libgssgate: one connection to gssgated's wire socket (docs/wire.md), the lean
// transport beside gRPC. Calls go one at a time (the protocol answers a connection's calls in
// order); threads sharing a Connection queue on its lock until their deadline. A call that times
// out leaves the connection as it is: its late reply is skipped by call id when the next call
// reads. A broken connection is closed and made again by the next call (its handles are gone
// with it, as on gRPC).

#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>

#include "gssgate/v1/gssgate.pb.h"

namespace gssgate::internal {

class WireChannel {
 public:
  explicit WireChannel(std::string path) : path_(std::move(path)) {}
  ~WireChannel();
  WireChannel(const WireChannel&) = delete;
  WireChannel& operator=(const WireChannel&) = delete;

  // A SOCK_SEQPACKET connection to `path`, or -1 with errno (EPROTOTYPE: `path` is a stream
  // socket, such as gRPC's).
  static int connect_socket(const std::string& path);
  // Takes an already connected socket (the one that found the path to be a wire socket).
  void adopt(int fd);

  struct Result {
    int code = 0;  // canonical status code (as gRPC's)
    std::string message;
    bool released = false;  // the daemon processed `releases`
    bool not_run = false;   // refused before running: may be made again
  };
  // Calls method `number` (1 + its index in service Gssgate) with `request`; on code 0 `reply`
  // holds the reply. UNAVAILABLE when the daemon cannot be reached or the connection broke,
  // DEADLINE_EXCEEDED when `deadline` passed.
  Result call(uint32_t number, const google::protobuf::Message& request,
              const ::gssgate::v1::Releases& releases, google::protobuf::Message* reply,
              std::chrono::system_clock::time_point deadline);

 private:
  // Connects if not connected; false (and `error` set) when it cannot.
  bool connect_locked(Result* error);
  void close_locked();
  // Sends the request's frames; false on a broken connection.
  bool send_locked(uint32_t number, uint64_t call_id, const std::string& payload,
                   const ::gssgate::v1::Releases& releases);

  const std::string path_;
  std::timed_mutex mu_;
  int fd_ = -1;
  uint64_t next_call_id_ = 1;
};

}  // namespace gssgate::internal
