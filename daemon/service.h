#pragma once

// The RPC handlers, independent of any transport: each is a plain function of (caller, request) →
// reply, so the gRPC adapter (grpc_service.h), fuzz targets and a future SEQPACKET transport share
// them. One .cc file per RPC lives in daemon/handlers/.
//
// Error contract (DESIGN.md §3): the returned absl::Status is for authorization and malformed
// requests only (PERMISSION_DENIED, INVALID_ARGUMENT, NOT_FOUND, RESOURCE_EXHAUSTED); a GSSAPI
// outcome, failure included, is written to reply->status with OK returned.
//
// Thread-safety: every handler may run concurrently with every other; set_config() swaps the policy
// atomically (calls already running keep the snapshot they started with).

#include <deque>
#include <functional>
#include <memory>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "daemon/config.h"
#include "daemon/cred_cache.h"
#include "daemon/handle_table.h"
#include "daemon/listener.h"
#include "daemon/policy.h"
#include "daemon/replay_cache.h"
#include "gssgate/v1/gssgate.pb.h"
#include "lib/gss/krb5.h"

namespace gssgate::daemon {

namespace v1 = ::gssgate::v1;

// X(Name) for every RPC; the request and reply types are v1::Name##Request / v1::Name##Reply.
// clang-format off
#define GSSGATE_RPCS(X) \
  X(ImportName) \
  X(DisplayName) \
  X(CanonicalizeName) \
  X(ExportName) \
  X(CompareName) \
  X(InquireName) \
  X(GetNameAttribute) \
  X(SetNameAttribute) \
  X(DeleteNameAttribute) \
  X(AcquireCreds) \
  X(AcquireCredImpersonateName) \
  X(InquireCred) \
  X(InquireCredByMech) \
  X(ExportCred) \
  X(ImportCred) \
  X(AddCred) \
  X(StoreCred) \
  X(ReleaseCred) \
  X(InitSecContext) \
  X(AcceptSecContext) \
  X(Wrap) \
  X(Unwrap) \
  X(GetMic) \
  X(VerifyMic) \
  X(WrapSizeLimit) \
  X(ProcessContextToken) \
  X(InquireContext) \
  X(ContextTime) \
  X(ExportContext) \
  X(ImportContext) \
  X(DeleteSecContext) \
  X(IndicateMechs) \
  X(WhoAmI) \
  X(GetStatus) \
  X(ListHandles) \
  X(Reload) \
  X(GetMetrics) \
  X(AcceptOnce) \
  X(Iov) \
  X(InquireSecContextByOid) \
  X(InquireCredByOid) \
  X(SetCredOption)
// clang-format on

// The per-principal MEMORY ccaches that hold, or have held, credentials stored by StoreCred. MIT's
// MEMORY ccaches are process-global and live until destroyed, and MIT creates one the first time
// its name is resolved, even for an acquisition that then fails; so the daemon resolves a
// per-principal name only for a principal the rule's client keytab holds, or one recorded here
// (acquire.cc). Otherwise any caller could grow the daemon by one cache per name it makes up.
// Thread-safe.
class StoredCcaches {
 public:
  // Records `ccache` if it is a MEMORY: one (the only kind the check above concerns).
  void note(const std::string& ccache);
  bool contains(const std::string& ccache) const;

 private:
  mutable absl::Mutex mu_;
  absl::flat_hash_set<std::string> ccaches_ ABSL_GUARDED_BY(mu_);
};

// The caller and the policy snapshot one call runs under.
struct Call {
  const Peer& peer;
  std::shared_ptr<const Config> config;
  // The matched rule as it applies to this caller: rights, expanded stores, the rule itself
  // (calls without a matching rule are refused before handlers run).
  Grant grant;
  Owner owner;
  // Seals the tokens that leave the daemon bound to this caller (credentials, names with
  // attributes); null if no key could be made.
  const gss::Sealer* sealer = nullptr;
  // The service's record of stored-into ccaches (never null once begin() made the Call).
  StoredCcaches* stored_ccaches = nullptr;
};

// A socket the daemon serves, as GetStatus reports it.
struct ListenerState {
  std::string name;
  std::string path;
  ListenerSettings::Transport transport = ListenerSettings::Transport::kGrpc;
  size_t connections = 0;
};

// What only main() knows, for GetStatus and Reload.
struct Runtime {
  std::string version;
  absl::Time started = absl::Now();
  std::function<size_t()> connections;                    // live connections
  std::function<absl::StatusOr<size_t>()> reload;         // re-reads the policy; the rule count
  std::function<std::string()> metrics;                   // the Prometheus text
  std::function<std::vector<ListenerState>()> listeners;  // the sockets served
};

class Service {
 public:
  Service(std::shared_ptr<const Config> config, HandleTable* table);

  void set_runtime(Runtime runtime) { runtime_ = std::move(runtime); }
  const Runtime& runtime() const { return runtime_; }

  void set_config(std::shared_ptr<const Config> config);
  std::shared_ptr<const Config> config() const;
  HandleTable& table() { return *table_; }
  CredCache& cred_cache() { return cred_cache_; }
  // Seals exported credentials; null if the key could not be made (ExportCred then fails).
  const gss::Sealer* sealer() const { return sealer_.get(); }
  // gssgated's own replay cache (replay_cache.h), set before serving where MIT's is switched off
  // (daemon/main.cc); null: MIT's, and accept steps record nothing here.
  void set_replay_cache(ReplayCache* cache) { replay_cache_ = cache; }
  ReplayCache* replay_cache() const { return replay_cache_; }

  // The context tokens ExportContext handed out, by MAC, per uid and bound to the exporting call
  // (export_binding: uid, rule, cgroup): ImportContext takes only those, once each, so MIT's
  // context deserializer (memory-unsafe on malformed input: fuzz_tokens found an overflow, a leak
  // and 4 GiB allocations in krb5 1.20) never sees caller-made bytes. Each uid keeps at most
  // kMaxExportedTokensPerUid, its oldest going first, so one uid churning exports cannot evict
  // another's.
  static constexpr size_t kMaxExportedTokensPerUid = 4096;
  void remember_exported_context(uid_t uid, const std::string& binding, const std::string& mac);
  // True (and forgotten) if `mac` was exported to `uid` under `binding`.
  bool take_exported_context(uid_t uid, const std::string& binding, const std::string& mac);

  // Resolves the caller's rule; PERMISSION_DENIED (and an audit line) when none matches.
  absl::StatusOr<Call> begin(const Peer& peer, const char* rpc) const;

  // The handles a caller let go of, carried on its next call (v1::Releases; docs/daemon.md,
  // "Deferred releases"), released before that call runs. A handle that is unknown, gone or not
  // this connection's is skipped: a release reveals nothing and never fails the call. More than
  // kMaxReleasesPerCall is INVALID_ARGUMENT (nothing released). Returns how many were released.
  static constexpr int kMaxReleasesPerCall = 256;
  absl::StatusOr<int> release_deferred(const Peer& peer, const v1::Releases& releases);

#define GSSGATE_DECLARE_HANDLER(Name) \
  absl::Status Name(const Call& call, const v1::Name##Request& request, v1::Name##Reply* reply);
  GSSGATE_RPCS(GSSGATE_DECLARE_HANDLER)
#undef GSSGATE_DECLARE_HANDLER

 private:
  // AcceptSecContext's body; with `once` (AcceptOnce) the context is never registered.
  absl::Status accept_step(const Call& call, const v1::AcceptSecContextRequest& request,
                           v1::AcceptSecContextReply* reply, bool once);

  mutable absl::Mutex mu_;
  std::shared_ptr<const Config> config_ ABSL_GUARDED_BY(mu_);
  HandleTable* table_;
  Runtime runtime_;
  CredCache cred_cache_;
  std::unique_ptr<gss::Sealer> sealer_;
  ReplayCache* replay_cache_ = nullptr;
  struct ExportedSlots {
    absl::flat_hash_map<std::string, std::string> binding_by_mac;
    std::deque<std::string> order;  // oldest first; may hold MACs already taken
  };
  // Internally synchronized; mutable because begin() (const) hands it to each Call.
  mutable StoredCcaches stored_ccaches_;
  absl::Mutex exported_mu_;
  absl::flat_hash_map<uid_t, ExportedSlots> exported_ ABSL_GUARDED_BY(exported_mu_);
};

}  // namespace gssgate::daemon
