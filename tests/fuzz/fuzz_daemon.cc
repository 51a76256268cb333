#include "tests/fuzz/fuzz_daemon.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "daemon/config.h"
#include "daemon/handlers/common.h"
#include "spdlog/spdlog.h"

namespace gssgate::fuzz {
namespace {

using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "fuzz daemon: %s\n", what.c_str());
  std::exit(2);
}

struct RpcEntry {
  const char* name;
  std::unique_ptr<Message> (*new_request)();
  absl::Status (*run)(FuzzDaemon& daemon, const Message& request);
};

// clang-format off
#define GSSGATE_FUZZ_RPC_ENTRY(Name)                                                           \
  RpcEntry{#Name,                                                                              \
           [] { return std::unique_ptr<Message>(new v1::Name##Request); },                     \
           [](FuzzDaemon& daemon, const Message& request) {                                    \
             v1::Name##Reply reply;                                                            \
             return daemon.run(&Service::Name, static_cast<const v1::Name##Request&>(request), \
                               &reply);                                                        \
           }},
// clang-format on
const RpcEntry kRpcs[] = {GSSGATE_RPCS(GSSGATE_FUZZ_RPC_ENTRY)};
#undef GSSGATE_FUZZ_RPC_ENTRY

bool is_handle_field(const FieldDescriptor* field) {
  return field->type() == FieldDescriptor::TYPE_BYTES && !field->is_repeated() &&
         (field->name() == "context" || field->name() == "creds" ||
          field->name() == "impersonator");
}

// Calls `fn(message, field)` for every handle field set in `message` (top level only: handles
// are never nested in requests).
void for_each_handle_field(Message* message,
                           const std::function<void(Message*, const FieldDescriptor*)>& fn) {
  const Reflection* reflection = message->GetReflection();
  std::vector<const FieldDescriptor*> fields;
  reflection->ListFields(*message, &fields);
  for (const FieldDescriptor* field : fields) {
    if (is_handle_field(field)) fn(message, field);
  }
}

}  // namespace

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

std::string fuzz_policy(const std::string& realm_dir, const std::string& ccache_path, uid_t uid) {
  return absl::StrFormat(R"([daemon]
socket = "%s/unused.sock"

[[rule]]
name = "fuzz"
uids = [%d]
usages = ["initiate", "accept"]
keytab = "%s/%s"
client_keytab = "%s/%s"
ccache = "FILE:%s"
export_context = true
export_creds = true
store_creds = true
delegate = true
accept_delegated = true
admin = true
impersonate = true
max_handles = 64
)",
                         realm_dir, uid, realm_dir, kServiceKeytab, realm_dir, kClientKeytab,
                         ccache_path);
}

size_t rpc_count() { return std::size(kRpcs); }
const char* rpc_name(size_t index) { return kRpcs[index % rpc_count()].name; }
size_t rpc_index(std::string_view name) {
  for (size_t i = 0; i < rpc_count(); ++i) {
    if (name == kRpcs[i].name) return i;
  }
  return rpc_count();
}

namespace {
// instance() is never destroyed (libFuzzer exits from anywhere): its private ccache copy goes at
// exit.
std::string* g_private_ccache = nullptr;
void remove_private_ccache() { unlink(g_private_ccache->c_str()); }
}  // namespace

FuzzDaemon& FuzzDaemon::instance() {
  static FuzzDaemon* daemon = [] {
    const char* dir = std::getenv("GSSGATE_FUZZ_REALM");
    if (dir == nullptr || *dir == '\0') {
      die("GSSGATE_FUZZ_REALM is not set; make a realm with gssgate-fuzz-seeds DIR and point "
          "GSSGATE_FUZZ_REALM at DIR/realm (scripts/fuzz.sh does both)");
    }
    auto* made = new FuzzDaemon(dir);
    if (!made->ccache_bytes_.empty()) {
      g_private_ccache = new std::string(made->ccache_path_);
      std::atexit(remove_private_ccache);
    }
    return made;
  }();
  return *daemon;
}

FuzzDaemon::FuzzDaemon(const std::string& realm_dir) : realm_dir_(realm_dir) {
  if (access((realm_dir + "/" + kServiceKeytab).c_str(), R_OK) != 0) {
    die(absl::StrCat(realm_dir, " has no ", kServiceKeytab, "; run gssgate-fuzz-seeds first"));
  }
  // The recorded tokens are replayed millions of times and for hours: no replay cache, and a
  // clock skew allowance wide enough for authenticators recorded at seed time (krb5.conf).
  setenv("KRB5_CONFIG", (realm_dir + "/" + kKrb5Conf).c_str(), 1);
  setenv("KRB5RCACHETYPE", "none", 1);
  setenv("KRB5CCNAME", "MEMORY:gssgate-fuzz-default", 1);
  unsetenv("KRB5_TRACE");
  unsetenv("KRB5_KTNAME");
  unsetenv("KRB5_CLIENT_KTNAME");
  verbose_ = std::getenv("GSSGATE_FUZZ_LOG") != nullptr;
  if (!verbose_) spdlog::set_level(spdlog::level::off);

  // While recording (no ccache yet) the daemon fills the realm's ccache from the KDC; afterwards
  // each process works on its own copy so parallel fuzz jobs do not share a file.
  const std::string recorded = realm_dir + "/" + kInitiatorCcache;
  ccache_bytes_ = read_file(recorded);
  ccache_path_ = recorded;
  if (!ccache_bytes_.empty()) {
    // The copy lives in a directory of another uid (nobody's), so the daemon treats it as a store
    // its caller could redirect (daemon/owner_stores.h) and every input runs through the owner
    // open, the in-memory mirror and StoreCred's write as the owner. Unprivileged runs (no chown)
    // keep a plain store.
    const std::string owned = realm_dir + "/owned";
    mkdir(owned.c_str(), 0755);
    if (chown(owned.c_str(), 65534, 65534) != 0 && verbose_) {
      std::fprintf(stderr, "fuzz: cannot chown %s; the ccache is not an owner store\n",
                   owned.c_str());
    }
    ccache_path_ = absl::StrCat(owned, "/", kInitiatorCcache, ".", getpid());
  }
  policy_text_ = fuzz_policy(realm_dir, ccache_path_, getuid());
  absl::StatusOr<daemon::Config> config = daemon::parse_config(policy_text_, "fuzz-policy");
  if (!config.ok()) die(std::string(config.status().message()));
  service_ = std::make_unique<Service>(std::make_shared<const daemon::Config>(std::move(*config)),
                                       &table_);
  service_->set_runtime(daemon::Runtime{
      .version = "fuzz",
      .connections = [] { return size_t{1}; },
      .reload = [this]() -> absl::StatusOr<size_t> {
        absl::StatusOr<daemon::Config> reloaded = daemon::parse_config(policy_text_, "fuzz-policy");
        if (!reloaded.ok()) return reloaded.status();
        size_t rules = reloaded->rules.size();
        service_->set_config(std::make_shared<const daemon::Config>(std::move(*reloaded)));
        return rules;
      },
      .metrics =
          [this] {
            return metrics_.render(
                daemon::Gauges{.credentials = table_.count(daemon::HandleKind::kCred),
                               .contexts = table_.count(daemon::HandleKind::kContext),
                               .connections = 1});
          }});
  peer_.uid = getuid();
  peer_.gid = getgid();
  peer_.pid = getpid();
  peer_.listener = "grpc";  // the policy has no [[listener]]: [daemon]'s socket is "grpc"
}

FuzzDaemon::~FuzzDaemon() {
  if (!ccache_bytes_.empty()) unlink(ccache_path_.c_str());
}

void FuzzDaemon::begin_input() {
  ++peer_.connection;
  absl::StatusOr<daemon::Call> call = service_->begin(peer_, "fuzz");
  if (!call.ok())
    die(absl::StrCat("the fuzz policy refuses its own uid: ", call.status().message()));
  call_ = std::make_unique<daemon::Call>(std::move(*call));

  if (!ccache_bytes_.empty()) {
    // Inputs may store into the ccache (StoreCred): every input starts from the recorded one.
    std::ofstream(ccache_path_, std::ios::binary | std::ios::trunc) << ccache_bytes_;
  }
  const std::string saved_dir = std::exchange(record_dir_, "");  // the baseline is not an input
  auto creds = [&](v1::CredUsage usage, std::string* out) {
    v1::AcquireCredsRequest request;
    request.set_usage(usage);
    v1::AcquireCredsReply reply;
    absl::Status status = run(&Service::AcquireCreds, request, &reply);
    out->clear();
    if (status.ok() && !reply.creds().empty()) {
      *out = reply.creds();
    } else if (usage == v1::CRED_USAGE_ACCEPT || warned_initiator_++ == 0) {
      std::fprintf(stderr, "fuzz daemon: baseline AcquireCreds failed: %s %s\n",
                   status.ToString().c_str(), reply.status().ShortDebugString().c_str());
      if (usage == v1::CRED_USAGE_ACCEPT) std::exit(2);  // the keytab is there: a real bug
    }
  };
  creds(v1::CRED_USAGE_ACCEPT, &acceptor_creds_);
  creds(v1::CRED_USAGE_INITIATE, &initiator_creds_);
  // The recorded contexts go into the table directly: ImportContext takes only tokens this very
  // daemon exported, and these were exported by the seed tool's.
  auto import = [&](const char* file, std::string* out) {
    out->clear();
    std::string exported = read_file(realm_dir_ + "/" + file);
    if (exported.empty()) return;
    gss::GssStatus status;
    std::shared_ptr<daemon::Entry> entry =
        daemon::imported_context_entry(call_->owner, exported, &status);
    if (!entry) die(absl::StrCat("baseline import of ", file, " failed: ", status.message()));
    absl::StatusOr<std::string> handle = table_.insert(entry, call_->grant.max_handles());
    if (!handle.ok()) die(std::string(handle.status().message()));
    *out = *handle;
  };
  import(kAcceptorContext, &context_);
  import(kInitiatorContext, &initiator_context_);
  record_dir_ = saved_dir;
}

void FuzzDaemon::end_input() {
  table_.release_connection(peer_.connection);
  if (size_t left = table_.size(); left != 0) {
    std::fprintf(stderr, "fuzz daemon: %zu handle(s) outlived their connection\n", left);
    std::abort();
  }
  call_.reset();
}

bool FuzzDaemon::call_encoded(size_t index, std::string_view bytes) {
  const RpcEntry& rpc = kRpcs[index % rpc_count()];
  std::unique_ptr<Message> request = rpc.new_request();
  if (!request->ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) return false;
  substitute_placeholders(request.get());
  (void)rpc.run(*this, *request);
  return true;
}

void FuzzDaemon::substitute_placeholders(Message* request) const {
  for_each_handle_field(request, [&](Message* message, const FieldDescriptor* field) {
    const Reflection* reflection = message->GetReflection();
    std::string value = reflection->GetString(*message, field);
    if (value.size() != 1) return;
    const uint8_t b = static_cast<uint8_t>(value[0]);
    if (field->name() == "context") {
      const bool initiator = b % 2 == 1 && !initiator_context_.empty();
      reflection->SetString(message, field, initiator ? initiator_context_ : context_);
    } else {
      const bool initiator = b % 2 == 1 && !initiator_creds_.empty();
      reflection->SetString(message, field, initiator ? initiator_creds_ : acceptor_creds_);
    }
  });
}

void FuzzDaemon::record(const Message& request) {
  if (record_dir_.empty()) return;
  std::string rpc(request.GetDescriptor()->name());
  rpc.resize(rpc.size() - std::string_view("Request").size());
  const size_t index = rpc_index(rpc);
  if (index == rpc_count()) die(absl::StrCat("no RPC for ", request.GetDescriptor()->name()));
  std::unique_ptr<Message> copy(request.New());
  copy->CopyFrom(request);
  for_each_handle_field(copy.get(), [&](Message* message, const FieldDescriptor* field) {
    const Reflection* reflection = message->GetReflection();
    const std::string value = reflection->GetString(*message, field);
    if (value.size() != daemon::kHandleBytes) return;
    bool initiator = value == initiator_creds_;
    if (field->name() == "context") {
      absl::StatusOr<std::shared_ptr<daemon::Entry>> entry =
          table_.find(call_->owner, value, daemon::HandleKind::kContext);
      initiator = entry.ok() && (*entry)->role == daemon::Entry::Role::kInitiator;
    }
    reflection->SetString(message, field, std::string(1, initiator ? '\1' : '\0'));
  });
  std::string out(1, static_cast<char>(index));
  copy->AppendToString(&out);
  const std::string path = absl::StrFormat("%s/%s-%03d", record_dir_, rpc, recorded_++);
  std::ofstream(path, std::ios::binary) << out;
}

void FuzzDaemon::trace(const Message& request, const absl::Status& status, const Message& reply) {
  uint32_t major = 0;
  if (const FieldDescriptor* field = reply.GetDescriptor()->FindFieldByName("status")) {
    const Message& gss = reply.GetReflection()->GetMessage(reply, field);
    major = static_cast<uint32_t>(
        gss.GetReflection()->GetUInt32(gss, gss.GetDescriptor()->FindFieldByName("major")));
  }
  std::fprintf(stderr, "fuzz call %s: %s major=0x%x\n",
               std::string(request.GetDescriptor()->name()).c_str(),
               absl::StatusCodeToString(status.code()).c_str(), major);
}

void FuzzDaemon::check_reply(const Message& reply) {
  // What gRPC would do with the reply, and what the client would do with the bytes.
  std::string wire;
  std::unique_ptr<Message> parsed(reply.New());
  if (!reply.SerializeToString(&wire) || !parsed->ParseFromString(wire)) {
    std::fprintf(stderr, "fuzz daemon: a %s does not survive serialize/parse: %s\n",
                 std::string(reply.GetDescriptor()->name()).c_str(),
                 reply.ShortDebugString().c_str());
    std::abort();
  }
}

std::string wire_input(const std::vector<std::string>& datagrams) {
  std::string out;
  for (const std::string& d : datagrams) {
    const size_t n = std::min<size_t>(d.size(), 0xffff);
    out.push_back('\0');
    out.push_back(static_cast<char>(n & 0xff));
    out.push_back(static_cast<char>(n >> 8));
    out.append(d, 0, n);
  }
  return out;
}

uint32_t wire_method(size_t index) {
  const google::protobuf::MethodDescriptor* method =
      v1::ImportNameRequest::descriptor()->file()->FindServiceByName("Gssgate")->FindMethodByName(
          rpc_name(index));
  return method == nullptr ? 0 : static_cast<uint32_t>(method->index() + 1);
}

}  // namespace gssgate::fuzz
