#pragma once

// The daemon the fuzz targets call: the real Service and HandleTable, in-process, under a policy
// that grants the calling uid every right, on a realm recorded by gssgate-fuzz-seeds (keytabs, an
// exported acceptor context; no KDC runs while fuzzing). $GSSGATE_FUZZ_REALM names the directory.
//
// Each input runs on a connection of its own that starts with the baseline handles (acceptor and
// initiator credentials, the recorded acceptor context) and is released when the input ends, so
// inputs do not see each other's handles and the table must be empty between them (checked).
//
// Handle placeholders: fuzz inputs cannot know the daemon's random handles, so a `context`, `creds`
// or `impersonator` field one byte long is replaced by a baseline handle before the handler runs
// (byte % 2: 0 → the acceptor's, 1 → the initiator's). Recording does the reverse.

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "daemon/handle_table.h"
#include "daemon/metrics.h"
#include "daemon/service.h"
#include "google/protobuf/message.h"

namespace gssgate::fuzz {

namespace v1 = ::gssgate::v1;
using daemon::Service;

// Realm directory layout, shared by the seed tool and the targets.
inline constexpr char kServiceKeytab[] = "service.keytab";
inline constexpr char kClientKeytab[] = "client.keytab";
inline constexpr char kAcceptorContext[] = "acceptor.context";    // ExportContext tokens
inline constexpr char kInitiatorContext[] = "initiator.context";  // of one krb5 handshake
inline constexpr char kKrb5Conf[] = "krb5.conf";
// The initiator's tickets (TGT, service ticket for kServiceName), so initiator paths work with no
// KDC. Each target process works on a private copy, restored before every input.
inline constexpr char kInitiatorCcache[] = "initiator.ccache";
inline constexpr char kServiceName[] = "HTTP@localhost";  // hostbased; the keytab's principal

// The policy the targets run under: `uid` may do everything with the realm's keytabs and the
// ccache at `ccache_path`.
std::string fuzz_policy(const std::string& realm_dir, const std::string& ccache_path, uid_t uid);

// Number of RPCs in GSSGATE_RPCS, and the name of RPC `index`.
size_t rpc_count();
const char* rpc_name(size_t index);
// The index of `name`; rpc_count() if unknown.
size_t rpc_index(std::string_view name);

class FuzzDaemon {
 public:
  // The daemon of $GSSGATE_FUZZ_REALM, made on first use; exits with a message if it cannot be.
  static FuzzDaemon& instance();
  // Sets up the process environment (KRB5_CONFIG, no replay cache, quiet logs) and the daemon.
  // Exits with a message on failure: a fuzz target without its realm would fuzz nothing.
  explicit FuzzDaemon(const std::string& realm_dir);
  ~FuzzDaemon();

  // One input's connection with the baseline handles.
  void begin_input();
  // Releases the input's handles; aborts if any handle outlives its connection.
  void end_input();

  // Decodes `bytes` as the request of RPC `index % rpc_count()`, fills handle placeholders, runs
  // the handler and checks the reply (it must survive a serialize/parse round trip: a reply the
  // client cannot parse, e.g. invalid UTF-8 in a `string` field, aborts). False if it did not
  // decode.
  bool call_encoded(size_t index, std::string_view bytes);

  // Runs one handler on a request as is (handles must be real ones), with the same reply check.
  template <typename Request, typename Reply>
  absl::Status run(absl::Status (Service::*handler)(const daemon::Call&, const Request&, Reply*),
                   const Request& request, Reply* reply) {
    record(request);
    absl::Status status = (service_.get()->*handler)(*call_, request, reply);
    check_reply(*reply);
    if (verbose_) trace(request, status, *reply);
    return status;
  }

  // While set, every request run() or call_encoded() sees is written to `dir` as a fuzz_requests
  // input (RPC index byte + request with real handles replaced by placeholders).
  void record_requests(const std::string& dir) { record_dir_ = dir; }

  Service& service() { return *service_; }
  daemon::Metrics& metrics() { return metrics_; }
  // The current input's caller (its connection is the input's own).
  const daemon::Peer& peer() const { return peer_; }
  daemon::HandleTable& table() { return table_; }
  const std::string& realm_dir() const { return realm_dir_; }
  const std::string& acceptor_creds() const { return acceptor_creds_; }
  // Empty if the initiator's tickets could not be had (expired, or no KDC while recording).
  const std::string& initiator_creds() const { return initiator_creds_; }
  // Empty until the realm has recorded contexts.
  const std::string& context() const { return context_; }
  const std::string& initiator_context() const { return initiator_context_; }

 private:
  void substitute_placeholders(google::protobuf::Message* request) const;
  void record(const google::protobuf::Message& request);
  static void check_reply(const google::protobuf::Message& reply);
  // One line per call on stderr (GSSGATE_FUZZ_LOG set): which RPC, its status, the GSS major.
  static void trace(const google::protobuf::Message& request, const absl::Status& status,
                    const google::protobuf::Message& reply);

  std::string realm_dir_;
  std::string policy_text_;
  daemon::HandleTable table_;
  daemon::Metrics metrics_;
  std::unique_ptr<Service> service_;
  daemon::Peer peer_;
  std::unique_ptr<daemon::Call> call_;
  std::string acceptor_creds_, initiator_creds_, context_, initiator_context_;
  std::string ccache_path_;
  std::string ccache_bytes_;  // the recorded ccache, empty while recording
  std::string record_dir_;
  uint64_t recorded_ = 0;
  int warned_initiator_ = 0;
  bool verbose_ = false;
};

// fuzz_wire's input format: datagrams, each written as one flags byte (bit 0: truncated, as if
// recv had reported MSG_TRUNC), its length (2 bytes, little-endian) and its bytes.
std::string wire_input(const std::vector<std::string>& datagrams);
// The wire method number of RPC `index` (docs/wire.md: 1 + its place in `service Gssgate`).
uint32_t wire_method(size_t index);

// Reads a whole file; "" if it cannot.
std::string read_file(const std::string& path);

}  // namespace gssgate::fuzz
