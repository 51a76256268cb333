#pragma once

// What every call goes through, whichever transport brought it (grpc_service.h, wire_server.h):
// the releases it carried, the per-uid share of the daemon's threads, the policy rule
// (Service::begin), the handler, metrics and the debug line. One Dispatcher serves both
// transports, so a uid's share counts its calls on both sockets together.
//
// Thread-safety: every method may be called from any thread.

#include <sys/types.h>

#include <chrono>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "daemon/listener.h"
#include "daemon/metrics.h"
#include "daemon/service.h"
#include "spdlog/spdlog.h"

namespace gssgate::daemon {

class Dispatcher {
 public:
  // `metrics` (may be null) records every call.
  explicit Dispatcher(Service* service, Metrics* metrics = nullptr)
      : service_(service), metrics_(metrics) {}

  // Calls one uid may have running at once over all transports (0: no limit); more are
  // RESOURCE_EXHAUSTED, not run. main() sets a quarter of max_threads, so one caller's slow calls
  // cannot take every thread.
  void set_max_calls_per_uid(int max) { max_calls_per_uid_ = max; }

  // Releases the handles a call carried (Service::release_deferred), before anything else about
  // the call is decided, so a call refused afterwards still frees them. OK means released (the
  // transport then tells the client so).
  absl::Status release(const Peer& peer, const char* rpc, const v1::Releases& releases) {
    absl::StatusOr<int> released = service_->release_deferred(peer, releases);
    if (!released.ok()) return released.status();
    spdlog::debug("rpc={} uid={} conn={} deferred_releases={} released={}", rpc, peer.uid,
                  peer.connection, releases.contexts_size() + releases.creds_size(), *released);
    return absl::OkStatus();
  }

  struct Result {
    absl::Status status;
    bool not_run = false;  // refused for the uid's share of threads: the client may retry
  };

  // Runs `handler` for `peer` unless the uid already has its share of calls running.
  template <typename Request, typename Reply>
  Result run(Rpc id, const char* rpc, const Peer& peer, const Request& request, Reply* reply,
             absl::Status (Service::*handler)(const Call&, const Request&, Reply*)) {
    const auto started = std::chrono::steady_clock::now();
    if (!enter(peer.uid)) {
      if (metrics_ != nullptr) {
        metrics_->record(id, Outcome::kExhausted, since(started), false);
      }
      return {absl::ResourceExhaustedError(
                  absl::StrCat("uid ", peer.uid, " already has ", max_calls_per_uid_,
                               " calls running, its share of gssgated's threads (a quarter of "
                               "max_threads); retry when they finish")),
              true};
    }
    absl::Status status;
    {
      Leave leave_on_return{this, peer.uid};
      absl::StatusOr<Call> call = service_->begin(peer, rpc);
      status = call.ok() ? (service_->*handler)(*call, request, reply) : call.status();
    }
    if (metrics_ != nullptr) {
      Outcome outcome = outcome_of(status);
      bool kdc_error = false;
      if constexpr (requires { reply->status().major(); }) {
        // A calling or routine error; supplementary bits alone (e.g. a duplicate token) are not.
        if (status.ok() && (reply->status().major() & 0xffff0000u) != 0) {
          outcome = Outcome::kGssError;
          kdc_error = is_kdc_error(reply->status().minor());
        }
      }
      metrics_->record(id, outcome, since(started), kdc_error);
    }
    if (spdlog::should_log(spdlog::level::debug)) {  // sizes cost a pass over the messages
      spdlog::debug("rpc={} uid={} pid={} conn={} request_bytes={} reply_bytes={} code={} us={}",
                    rpc, peer.uid, peer.pid, peer.connection, request.ByteSizeLong(),
                    reply->ByteSizeLong(), absl::StatusCodeToString(status.code()),
                    absl::ToInt64Microseconds(since(started)));
    }
    return {std::move(status), false};
  }

 private:
  static absl::Duration since(std::chrono::steady_clock::time_point started) {
    return absl::FromChrono(std::chrono::steady_clock::now() - started);
  }
  // Counts the call in for `uid`; false (and nothing counted) when it already runs the most.
  bool enter(uid_t uid);
  void leave(uid_t uid);
  struct Leave {
    Dispatcher* self;
    uid_t uid;
    ~Leave() { self->leave(uid); }
  };

  Service* service_;
  Metrics* metrics_;
  int max_calls_per_uid_ = 0;
  absl::Mutex calls_mu_;
  absl::flat_hash_map<uid_t, int> calls_ ABSL_GUARDED_BY(calls_mu_);
};

}  // namespace gssgate::daemon
