#pragma once

// Counters and latency histograms for every RPC, rendered in the Prometheus text exposition format
// (GetMetrics / `gssgate metrics`). Recording is lock-free (relaxed atomics in fixed arrays indexed
// by RPC and outcome), so it costs a few nanoseconds on the request path; rendering reads them
// without stopping anyone, so a scrape is a consistent-enough snapshot, as Prometheus expects.

#include <array>
#include <atomic>
#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "daemon/service.h"

namespace gssgate::daemon {

// What became of one call.
enum class Outcome {
  kOk,         // GSSAPI reported no error
  kGssError,   // the RPC succeeded, GSSAPI failed (in the reply's status)
  kDenied,     // PERMISSION_DENIED: policy
  kNotFound,   // unknown or foreign handle
  kInvalid,    // malformed request
  kExhausted,  // quota or size
  kOther,      // any other gRPC status
  kCount,
};
const char* to_string(Outcome outcome);
Outcome outcome_of(const absl::Status& status);

// The index of each RPC in GSSGATE_RPCS order.
enum class Rpc {
#define GSSGATE_RPC_ENUM(Name) k##Name,
  GSSGATE_RPCS(GSSGATE_RPC_ENUM)
#undef GSSGATE_RPC_ENUM
      kCount,
};

struct Gauges {
  uint64_t credentials = 0;
  uint64_t contexts = 0;
  uint64_t connections = 0;
};

class Metrics {
 public:
  // `kdc_error` marks a GSSAPI failure whose minor status is a KDC error (unreachable, or one the
  // KDC returned).
  void record(Rpc rpc, Outcome outcome, absl::Duration latency, bool kdc_error);
  std::string render(const Gauges& gauges) const;

  // Upper bounds of the latency buckets, in seconds (+Inf is implicit).
  static constexpr std::array<double, 14> kBuckets = {
      0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5};

 private:
  static constexpr size_t kRpcs = static_cast<size_t>(Rpc::kCount);
  static constexpr size_t kOutcomes = static_cast<size_t>(Outcome::kCount);
  std::array<std::array<std::atomic<uint64_t>, kOutcomes>, kRpcs> calls_{};
  std::array<std::array<std::atomic<uint64_t>, kBuckets.size() + 1>, kRpcs> buckets_{};
  std::array<std::atomic<uint64_t>, kRpcs> latency_ns_{};
  std::atomic<uint64_t> kdc_errors_{0};
};

// True for MIT krb5 minor codes that mean "the KDC could not be reached" or "the KDC said no".
bool is_kdc_error(uint32_t minor);

}  // namespace gssgate::daemon
