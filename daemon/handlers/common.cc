#include "daemon/handlers/common.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "daemon/handlers/cred_guard.h"
#include "daemon/owner_stores.h"
#include "lib/gss/krb5.h"
#include "lib/util/status_macros.h"
#include "spdlog/spdlog.h"

namespace gssgate::daemon {

absl::StatusOr<gss::Oid> oid_field(const std::string& der, const char* field) {
  if (der.empty()) return gss::Oid();
  auto oid = gss::Oid::from_der(der);
  if (!oid.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, " is not a DER-encoded OID (", der.size(), " bytes)"));
  }
  return *oid;
}

namespace {

// RFC 6680 §7.8 / MIT: the token id of a composite exported name, under either name type.
constexpr std::string_view kCompositeTokenId("\x04\x02", 2);

gss::GssStatus refused_name_token(std::string text) {
  gss::GssStatus status = gss::check("gss_import_name", GSS_S_DEFECTIVE_TOKEN, 0);
  status.minor_text = {std::move(text)};
  return status;
}

}  // namespace

std::string name_token_binding(uid_t uid) { return absl::StrCat("gssgate-name-v1 uid=", uid); }

std::string exported_name_binding(const Call& call) {
  return absl::StrCat("gssgate-exported-name-v1 ", export_binding(call));
}

absl::Status import_wire_name(const Call& call, const v1::Name& name, const char* field,
                              gss::NameHandle* out, gss::GssStatus* status) {
  auto type = oid_field(name.name_type(), absl::StrCat(field, ".name_type").c_str());
  if (!type.ok()) return type.status();
  if (name.value().empty()) {
    return absl::InvalidArgumentError(absl::StrCat(field, " is empty"));
  }
  const bool composite_type = *type == gss::oids::nt_composite_export();
  if (composite_type || *type == gss::oids::nt_export_name()) {
    std::string_view value = name.value();
    if (call.sealer != nullptr && value.substr(0, 4) == "GGS1") {
      // A name's own value (name_to_proto), or a token ExportName(composite) handed out; under
      // either exported-name type, as MIT imports a composite token under both.
      absl::StatusOr<std::string> token =
          call.sealer->open(value, name_token_binding(call.owner.uid));
      if (!token.ok()) token = call.sealer->open(value, exported_name_binding(call));
      if (!token.ok()) {
        *status = refused_name_token(absl::StrCat(
            field, ": ", token.status().message(),
            " (names with attributes are bound to the uid, rule and daemon that issued them)"));
        return absl::OkStatus();
      }
      *status = gss::import_name(*token, gss::oids::nt_composite_export(), out);
      return absl::OkStatus();
    }
    if (std::optional<std::string> plain = gss::composite_token_without_attributes(value)) {
      // No attribute data to parse: the name alone, as the plain exported name it equals (what
      // ExportName(composite) hands out for a name without attributes, and MIT's own token).
      *status = gss::import_name(*plain, gss::oids::nt_export_name(), out);
      return absl::OkStatus();
    }
    if (composite_type || value.substr(0, kCompositeTokenId.size()) == kCompositeTokenId) {
      *status = refused_name_token(absl::StrCat(
          field,
          ": composite name tokens (names with attributes) are accepted only as gssgated issued "
          "them (export_name(composite=true) through it); the daemon does not parse attribute "
          "data from callers. Pass the Name object itself, a token gssgated exported, or the "
          "plain exported name (export_name(composite=false))"));
      return absl::OkStatus();
    }
    if (std::string wrong = gss::check_exported_name_token(value); !wrong.empty()) {
      *status =
          refused_name_token(absl::StrCat(field, ": not an RFC 2743 exported name token: ", wrong));
      return absl::OkStatus();
    }
  }
  *status = gss::import_name(name.value(), *type, out);
  return absl::OkStatus();
}

gss::GssStatus settable_attribute(const Call& call, const std::string& attribute, const char* op) {
  // MIT matches the prefix case-sensitively; refusing every spelling costs nothing.
  if (!absl::StartsWithIgnoreCase(attribute, "urn:mspac:")) return gss::GssStatus();
  gss::GssStatus status =
      gss::check(op == std::string_view("delete_name_attribute") ? "gss_delete_name_attribute"
                                                                 : "gss_set_name_attribute",
                 GSS_S_UNAVAILABLE, 0);
  status.minor_text = {
      "gssgated does not set or delete urn:mspac: attributes: a name's PAC comes only from the "
      "ticket the KDC signed, and setting one would make the daemon parse caller bytes"};
  audit(call, op, absl::StrCat("attribute_bytes=", attribute.size(), " attribute=urn:mspac:"),
        "refused");
  return status;
}

std::string display_of(const gss::NameHandle& name) {
  gss::DisplayedName shown;
  return gss::display_name(name, &shown).ok() ? shown.text : std::string();
}

void name_to_proto(const Call& call, const gss::NameHandle& name, v1::Name* out) {
  gss::DisplayedName shown;
  if (gss::display_name(name, &shown).ok()) {
    out->set_display(shown.text);
    out->set_display_type(shown.type.der());
  }
  // A mechanism name goes out as a sealed composite token so its attributes come back with it
  // (import_wire_name); without a sealing key, or for a mechanism without RFC 6680 support, as
  // the plain exported name.
  std::string token;
  if (call.sealer != nullptr && gss::export_name_composite(name, &token).ok()) {
    absl::StatusOr<std::string> sealed =
        call.sealer->seal(token, name_token_binding(call.owner.uid));
    if (sealed.ok()) {
      out->set_value(*std::move(sealed));
      out->set_name_type(gss::oids::nt_composite_export().der());
      return;
    }
  }
  if (gss::export_name(name, &token).ok()) {
    out->set_value(std::move(token));
    out->set_name_type(gss::oids::nt_export_name().der());
  } else {
    out->set_value(shown.text);
    out->set_name_type(shown.type.der());
  }
}

gss::ChannelBindings bindings_from_proto(const v1::ChannelBindings& cb) {
  gss::ChannelBindings out;
  out.initiator_address_type = cb.initiator_address_type();
  out.initiator_address = cb.initiator_address();
  out.acceptor_address_type = cb.acceptor_address_type();
  out.acceptor_address = cb.acceptor_address();
  out.application_data = cb.application_data();
  return out;
}

absl::StatusOr<gss::CredUsage> usage_from_proto(int usage) {
  switch (usage) {
    case v1::CRED_USAGE_UNSPECIFIED:
    case v1::CRED_USAGE_BOTH:
      return gss::CredUsage::kBoth;
    case v1::CRED_USAGE_INITIATE:
      return gss::CredUsage::kInitiate;
    case v1::CRED_USAGE_ACCEPT:
      return gss::CredUsage::kAccept;
    default:
      return absl::InvalidArgumentError(absl::StrCat("unknown credential usage ", usage,
                                                     " (expected 0-3: unspecified, both, ",
                                                     "initiate, accept)"));
  }
}

v1::CredUsage usage_to_proto(gss::CredUsage usage) {
  switch (usage) {
    case gss::CredUsage::kInitiate:
      return v1::CRED_USAGE_INITIATE;
    case gss::CredUsage::kAccept:
      return v1::CRED_USAGE_ACCEPT;
    case gss::CredUsage::kBoth:
      break;
  }
  return v1::CRED_USAGE_BOTH;
}

absl::StatusOr<std::vector<gss::KeytabEntry>> keytab_entries(const std::string& keytab) {
  GSSGATE_ASSIGN_OR_RETURN(gss::Krb5Context ctx, gss::Krb5Context::create());
  return gss::list_keytab(ctx, keytab);
}

StoreOwner store_owner(const Call& call) {
  return StoreOwner{call.peer.uid, call.peer.gid, call.peer.groups};
}

absl::StatusOr<std::string> rule_store_for_mit(const Call& call, const char* key,
                                               const std::string& value, uint64_t* generation) {
  absl::StatusOr<MitStore> store = store_for_mit(store_owner(call), call.rule->name, key, value);
  if (!store.ok()) {
    return absl::Status(store.status().code(), absl::StrCat("policy rule \"", call.rule->name,
                                                            "\": ", store.status().message()));
  }
  if (generation != nullptr) *generation = store->generation;
  return store->value;
}

absl::StatusOr<std::vector<gss::KeytabEntry>> rule_keytab_entries(
    const Call& call, const char* key, const std::optional<std::string>& tmpl) {
  if (!tmpl) return absl::NotFoundError(absl::StrCat("the rule names no ", key));
  GSSGATE_ASSIGN_OR_RETURN(std::string value, expand_template(*tmpl, call.peer.uid));
  GSSGATE_ASSIGN_OR_RETURN(std::string readable, rule_store_for_mit(call, key, value, nullptr));
  return keytab_entries(readable);
}

std::string keytab_diagnosis(const Call& call) {
  if (!call.rule->keytab) return "";
  const Rule& rule = *call.rule;
  const std::string named = absl::StrCat("policy rule \"", rule.name, "\": keytab ");
  absl::StatusOr<std::string> keytab = expand_template(*rule.keytab, call.peer.uid);
  if (!keytab.ok()) return absl::StrCat(named, *rule.keytab, ": ", keytab.status().message());
  std::string path = store_file(*keytab);
  if (path.empty()) path = *keytab;
  if (!redirectable(path)) {
    // A file only root can put there: gssgated may say what it finds (as its own uid).
    if (access(path.c_str(), F_OK) != 0) {
      return absl::StrCat(named, path, " does not exist (", strerror(errno), ")");
    }
    if (faccessat(AT_FDCWD, path.c_str(), R_OK, AT_EACCESS) != 0) {  // as gssgated's euid
      return absl::StrCat(named, path, " is not readable by gssgated (uid ", geteuid(),
                          "): ", strerror(errno));
    }
  }
  // Otherwise only what the caller's own open finds (rule_store_for_mit says why it failed).
  absl::StatusOr<std::vector<gss::KeytabEntry>> entries =
      rule_keytab_entries(call, "keytab", rule.keytab);
  if (!entries.ok()) {
    if (absl::StartsWith(entries.status().message(), "policy rule")) {
      return std::string(entries.status().message());
    }
    return absl::StrCat(named, path, " cannot be read: ", entries.status().message());
  }
  if (entries->empty()) return absl::StrCat(named, path, " holds no keys");
  // Only the principals the rule may act as: the others are not the caller's business.
  std::vector<std::string> held;
  for (const gss::KeytabEntry& e : *entries) {
    if (!rule.principals.empty() && !principal_allowed(rule, e.principal)) continue;
    std::string one = absl::StrCat(e.principal, " kvno ", e.kvno);
    if (std::find(held.begin(), held.end(), one) == held.end()) held.push_back(std::move(one));
  }
  if (held.empty()) {
    return absl::StrCat(named, path, " holds no key for a principal the rule's principals allow");
  }
  constexpr size_t kShown = 6;
  const size_t more = held.size() > kShown ? held.size() - kShown : 0;
  held.resize(std::min(held.size(), kShown));
  return absl::StrCat(named, path, " holds ", absl::StrJoin(held, ", "),
                      more > 0 ? absl::StrCat(" and ", more, " more") : "",
                      "; the ticket must be for one of these at that kvno (after a key change, "
                      "export the new keys into the keytab: no restart is needed)");
}

std::string ccache_diagnosis(const Call& call) {
  if (!call.rule->ccache) return "";
  absl::StatusOr<std::string> ccache = expand_template(*call.rule->ccache, call.peer.uid);
  if (!ccache.ok()) return "";
  // A ccache its callers could redirect is mirrored in memory, never written by MIT.
  if (const std::string file = store_file(*ccache); !file.empty() && redirectable(file)) return "";
  std::string path = *ccache;
  std::string dir;
  if (absl::StartsWith(path, "DIR:")) {
    dir = path.substr(4);
    if (absl::StartsWith(dir, ":")) return "";  // DIR::file names one file of an existing set
  } else if (absl::StartsWith(path, "FILE:") || path.find(':') == std::string::npos) {
    if (absl::StartsWith(path, "FILE:")) path = path.substr(5);
    const size_t slash = path.rfind('/');
    dir = slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
  } else {
    return "";  // MEMORY, KEYRING, KCM: not a directory the daemon writes
  }
  const std::string what =
      absl::StrCat("policy rule \"", call.rule->name, "\": ccache ", *ccache, ": directory ", dir);
  const char* fix = "; fix it and retry: no restart is needed";
  struct statvfs fs;
  if (statvfs(dir.c_str(), &fs) != 0) {
    return absl::StrCat(what, " cannot be used (", strerror(errno), ")", fix);
  }
  if (fs.f_flag & ST_RDONLY) return absl::StrCat(what, " is on a read-only file system", fix);
  // A ccache with a TGT and a few service tickets takes a few KiB.
  constexpr uint64_t kNeeded = 64 * 1024;
  const uint64_t free_bytes = static_cast<uint64_t>(fs.f_bavail) * fs.f_frsize;
  // f_files == 0: the file system has no inode count (btrfs, many FUSE and NFS ones).
  if (free_bytes < kNeeded || (fs.f_files != 0 && fs.f_favail == 0)) {
    return absl::StrCat(what, " is full (", free_bytes, " bytes and ", fs.f_favail, " inodes free)",
                        fix);
  }
  if (faccessat(AT_FDCWD, dir.c_str(), W_OK | X_OK, AT_EACCESS) != 0) {  // as gssgated's euid
    return absl::StrCat(what, " is not writable by gssgated (uid ", geteuid(),
                        "): ", strerror(errno), fix);
  }
  return "";
}

bool is_keytab_error(OM_uint32 minor) {
  switch (static_cast<krb5_error_code>(minor)) {
    case KRB5_KT_NOTFOUND:
    case KRB5_KT_KVNONOTFOUND:
    case KRB5_KT_NOWRITE:
    case KRB5_KT_END:
    case KRB5_KT_BADNAME:
    case KRB5_KT_IOERR:
    case KRB5_KT_FORMAT:
    case KRB5_KEYTAB_BADVNO:
    case KRB5KRB_AP_ERR_BADKEYVER:
    case KRB5KRB_AP_ERR_NOKEY:
    case KRB5KRB_AP_WRONG_PRINC:
    case KRB5KRB_AP_ERR_BAD_INTEGRITY:
    case KRB5KRB_AP_ERR_NOT_US:
    case ENOENT:
    case EACCES:
      return true;
    default:
      return false;
  }
}

std::shared_ptr<Entry> imported_context_entry(const Owner& owner, std::string_view token,
                                              gss::GssStatus* status) {
  gss::ContextHandle ctx;
  *status = gss::import_context(token, &ctx);
  if (!status->ok()) return nullptr;
  gss::ContextInfo info;
  *status = gss::inquire_context(ctx, &info);
  if (!status->ok()) return nullptr;
  auto entry = std::make_shared<Entry>(owner, HandleKind::kContext);
  entry->role = info.locally_initiated ? Entry::Role::kInitiator : Entry::Role::kAcceptor;
  entry->mech = info.mech;
  absl::MutexLock lock(&entry->mu);
  entry->context = std::move(ctx);
  return entry;
}

std::string export_binding(const Call& call) {
  // What the rule selects by beyond ids is part of the binding: two callers one rule admits by a
  // pattern (two containers' cgroups, two programs) cannot use each other's tokens.
  const Rule& rule = *call.rule;
  const bool by_cgroup = !rule.cgroups.empty() || !rule.systemd_units.empty();
  const bool by_exe = !rule.executables.empty() || !rule.executable_sha256.empty();
  return absl::StrCat("uid=", call.owner.uid, " rule=", rule.name,
                      by_cgroup ? absl::StrCat(" cgroup=", call.peer.cgroup) : "",
                      by_exe ? absl::StrCat(" exe=", call.peer.exe) : "");
}

std::string loggable_name(const gss::NameHandle& name, const v1::Name& wire) {
  if (name) {
    // Escaped where it is logged (log_value), like every caller-influenced value.
    std::string shown = display_of(name);
    if (!shown.empty()) return shown;
  }
  return absl::StrCat("<", wire.value().size(), "-byte name>");
}

void audit(const Call& call, const char* op, const std::string& details,
           const std::string& outcome) {
  spdlog::info("audit op={} uid={} gid={} pid={} conn={} rule={} {} outcome={}", op, call.peer.uid,
               call.peer.gid, call.peer.pid, call.peer.connection, call.rule->name, details,
               outcome);
}

absl::Status deny(const Call& call, const char* op, const std::string& why) {
  audit(call, op, absl::StrCat("reason=", log_value(why)), "denied");
  return absl::PermissionDeniedError(why);
}

namespace {
// An empty in-memory keytab (MIT creates a MEMORY keytab empty when first resolved).
constexpr char kNoClientKeys[] = "MEMORY:gssgate-no-client-keys";

// The stores a rule grants for a usage; the cache key and acquire_granted both use it.
// `principal` ("name@REALM", or empty when none was named) picks the caller's in-daemon ccache: an
// explicitly named ccache holds one principal (MIT refuses another with "Principal in credential
// cache does not match desired name"), so a caller gets one MEMORY cache per principal it names.
absl::StatusOr<std::vector<std::pair<std::string, std::string>>> granted_stores(
    const Call& call, bool initiate, bool accept, const std::string& principal = std::string()) {
  const Rule& rule = *call.rule;
  std::vector<std::pair<std::string, std::string>> granted;
  auto grant = [&](const char* key, const std::optional<std::string>& tmpl) -> absl::Status {
    if (!tmpl) return absl::OkStatus();
    auto value = expand_template(*tmpl, call.peer.uid);
    if (!value.ok()) return value.status();
    granted.emplace_back(key, *value);
    return absl::OkStatus();
  };
  if (accept) GSSGATE_RETURN_IF_ERROR(grant("keytab", rule.keytab));
  if (initiate) {
    GSSGATE_RETURN_IF_ERROR(grant("client_keytab", rule.client_keytab));
    // Without a client_keytab element MIT gets initial tickets from the process's default client
    // keytab (KRB5_CLIENT_KTNAME, default_client_keytab_name: root's) for a principal the ccache
    // lacks: name an empty one instead.
    if (!rule.client_keytab) granted.emplace_back("client_keytab", kNoClientKeys);
    if (rule.ccache) {
      GSSGATE_RETURN_IF_ERROR(grant("ccache", rule.ccache));
    } else {
      // Service tickets are cached per uid and rule inside the daemon; never the daemon's own
      // default ccache.
      granted.emplace_back("ccache", absl::StrCat("MEMORY:gssgate-", call.peer.uid, "-", rule.name,
                                                  principal.empty() ? "" : "-", principal));
    }
  }
  return granted;
}
}  // namespace

namespace {
// The per-principal MEMORY ccaches that hold, or have held, credentials stored by StoreCred. MIT's
// MEMORY ccaches are process-global and live until destroyed, and MIT creates one the first time
// its name is resolved, even for an acquisition that then fails; so the daemon resolves a
// per-principal name only for a principal the rule's client keytab holds, or one recorded here.
// Otherwise any caller could grow the daemon by one cache per name it makes up.
absl::Mutex stored_ccaches_mu;
absl::flat_hash_set<std::string>& stored_ccaches()
    ABSL_EXCLUSIVE_LOCKS_REQUIRED(stored_ccaches_mu) {
  static auto* set = new absl::flat_hash_set<std::string>();
  return *set;
}

// Whether `principal` has keys in the rule's client keytab.
bool client_keytab_holds(const Call& call, const std::string& principal, std::string* keytab) {
  if (!call.rule->client_keytab) return false;
  absl::StatusOr<std::string> path = expand_template(*call.rule->client_keytab, call.peer.uid);
  if (!path.ok()) return false;
  *keytab = *path;
  absl::StatusOr<std::vector<gss::KeytabEntry>> entries =
      rule_keytab_entries(call, "client_keytab", call.rule->client_keytab);
  if (!entries.ok()) return false;
  for (const gss::KeytabEntry& e : *entries) {
    if (e.principal == principal) return true;
  }
  return false;
}
}  // namespace

void note_stored_ccache(const std::string& ccache) {
  if (!absl::StartsWith(ccache, "MEMORY:")) return;
  absl::MutexLock lock(&stored_ccaches_mu);
  stored_ccaches().insert(ccache);
}

absl::StatusOr<std::string> caller_ccache(const Call& call, const std::string& principal) {
  GSSGATE_ASSIGN_OR_RETURN(auto stores,
                           granted_stores(call, /*initiate=*/true, /*accept=*/false, principal));
  for (const auto& [key, value] : stores) {
    if (key == "ccache") return value;
  }
  return absl::InternalError("no ccache for the caller");  // granted_stores always names one
}

absl::StatusOr<StepEntries> step_entries(HandleTable& table, const Call& call,
                                         const std::string& ctx_id, const std::string& cred_id) {
  StepEntries out;
  if (!cred_id.empty()) {
    GSSGATE_ASSIGN_OR_RETURN(out.cred, table.find(call.owner, cred_id, HandleKind::kCred));
  }
  if (ctx_id.empty()) {
    out.context = std::make_shared<Entry>(call.owner, HandleKind::kContext);
  } else {
    GSSGATE_ASSIGN_OR_RETURN(out.context, table.find(call.owner, ctx_id, HandleKind::kContext));
  }
  return out;
}

absl::StatusOr<std::string> settle_step(HandleTable& table, const Call& call,
                                        const gss::GssStatus& status, const std::string& ctx_id,
                                        std::shared_ptr<Entry> context, bool release_when_complete,
                                        bool once) {
  const bool first = ctx_id.empty();
  if (!status.ok() || (release_when_complete && !status.continue_needed()) || (first && once)) {
    if (!first) table.erase(call.owner, ctx_id, HandleKind::kContext).IgnoreError();
    return std::string();
  }
  if (first) return table.insert(std::move(context), call.rule->max_handles);
  return ctx_id;
}

void complete_names_to_proto(const Call& call, Entry& context, v1::Name* initiator,
                             v1::Name* target) {
  gss::ContextInfo info;
  gss::GssStatus status;
  {
    absl::MutexLock lock(&context.mu);
    status = gss::inquire_context(
        context.context, &info,
        gss::ContextNames{.initiator = initiator != nullptr, .target = target != nullptr});
  }
  if (!status.ok()) return;
  if (info.initiator_name && initiator != nullptr) {
    name_to_proto(call, info.initiator_name, initiator);
  }
  if (info.target_name && target != nullptr) name_to_proto(call, info.target_name, target);
}

absl::Status check_impersonation(const Call& call, const gss::NameHandle& name,
                                 gss::GssStatus* status, std::string* principal,
                                 gss::NameHandle* checked) {
  gss::NameHandle mn;
  *status = gss::canonicalize_name(name, gss::oids::krb5(), &mn);
  if (!status->ok()) return absl::OkStatus();
  *principal = display_of(mn);
  *checked = checked_name(std::move(mn), *principal);
  GSSGATE_RETURN_IF_ERROR(
      require(call, Right::kImpersonate, "impersonate", absl::StrCat("impersonating ", *principal)));
  if (impersonation_allowed(*call.rule, *principal)) return absl::OkStatus();
  return deny(call, "impersonate",
              absl::StrCat("policy rule \"", call.rule->name, "\" does not allow impersonating ",
                           *principal, " (not in impersonate_principals)"));
}

absl::Status require(const Call& call, Right right, const char* op, absl::string_view what) {
  if (grants(*call.rule, right)) return absl::OkStatus();
  return deny(call, op, refusal(*call.rule, call.peer.uid, right, what));
}

absl::Status default_creds(Service& service, const Call& call, gss::CredUsage usage,
                           gss::GssStatus* status, CredCache::Cred* out) {
  const bool initiate = usage == gss::CredUsage::kInitiate;
  GSSGATE_ASSIGN_OR_RETURN(auto stores, granted_stores(call, initiate, !initiate));
  std::string key = absl::StrCat(call.rule->name, "|", gss::to_string(usage));
  bool cacheable = true;
  for (const auto& [k, v] : stores) {
    absl::StrAppend(&key, "|", k, "=", v);
    // A mirrored store (owner_stores.h) names its contents' generation: a credential from an
    // older copy of the caller's file is not reused.
    uint64_t generation = 0;
    cacheable = cacheable && rule_store_for_mit(call, k.c_str(), v, &generation).ok();
    if (generation != 0) absl::StrAppend(&key, "@", generation);
  }
  if (CredCache::Cred cached = cacheable ? service.cred_cache().get(key) : nullptr) {
    *out = std::move(cached);
    *status = gss::GssStatus();
    spdlog::debug("default {} credentials of rule {} from the cache", gss::to_string(usage),
                  call.rule->name);
    return absl::OkStatus();
  }
  CredRequest want;
  want.usage = usage;
  // Every mechanism the rule allows, so a step of any of them finds its element.
  want.mechs = call.rule->mechs;
  gss::AcquiredCred acquired;
  GSSGATE_RETURN_IF_ERROR(acquire_granted(call, want, status, &acquired));
  if (!status->ok()) return absl::OkStatus();
  auto cred = std::make_shared<const CachedCred>(std::move(acquired.cred));
  // Bounded so key rotation and ticket expiry are picked up; MIT renews initiator tickets from a
  // client keytab by itself while the credential lives.
  absl::Duration ttl = absl::Minutes(5);
  if (acquired.lifetime != GSS_C_INDEFINITE) {
    ttl = std::min(ttl, absl::Seconds(acquired.lifetime) / 2);
  }
  service.cred_cache().put(key, cred, ttl);
  *out = std::move(cred);
  return absl::OkStatus();
}

gss::NameHandle checked_name(gss::NameHandle mn, const std::string& principal) {
  // MIT's mechglue imports a name for SPNEGO (and other mechanisms) from the caller's original
  // text, so a hostbased or short name would be resolved once more after the check; a principal
  // with its realm is re-imported as exactly that principal instead. A referral-realm one
  // ("HTTP/host@") keeps the krb5 mechanism name.
  if (principal.empty() || principal.back() == '@') return mn;
  gss::NameHandle exact;
  if (!gss::import_name(principal, gss::oids::nt_krb5_principal_name(), &exact).ok()) return mn;
  return exact;
}

absl::Status check_acquire(const Call& call, const CredRequest& request, const char* op,
                           gss::GssStatus* status, gss::CredStore* stores,
                           gss::NameHandle* canonical) {
  const Rule& rule = *call.rule;
  const bool initiate = request.usage != gss::CredUsage::kAccept;
  const bool accept = request.usage != gss::CredUsage::kInitiate;
  if (request.usage == gss::CredUsage::kBoth && rule.allow_initiate != rule.allow_accept) {
    // "both" (python-gssapi's default usage) where the rule grants one side: what MIT in a
    // process holding only those stores says (a keytab and no ccache, or the reverse), no
    // credentials for the other side, rather than a policy refusal of the whole call.
    const char* granted = rule.allow_initiate ? "initiate" : "accept";
    const char* missing = rule.allow_initiate ? "accept" : "initiate";
    audit(call, op,
          absl::StrCat("reason=", log_value(absl::StrCat("usage both; rule grants ", granted,
                                                         " only"))),
          "denied");
    *status = gss::check("gss_acquire_cred", GSS_S_NO_CRED, 0);
    status->minor_text = {absl::StrCat(
        "policy rule \"", rule.name, "\" grants ", granted, " only, so there are no ", missing,
        " credentials for usage \"both\" (as MIT without a ",
        rule.allow_initiate ? "keytab" : "ccache", "); ask for usage \"", granted, "\"")};
    return absl::OkStatus();
  }
  if (initiate) {
    GSSGATE_RETURN_IF_ERROR(
        require(call, Right::kInitiate, op, "acquiring initiator credentials"));
  }
  if (accept) {
    GSSGATE_RETURN_IF_ERROR(require(call, Right::kAccept, op, "acquiring acceptor credentials"));
  }

  // The principal named, where the ccache choice or the rule's principal patterns need it.
  *status = gss::GssStatus();
  std::string principal;
  if (request.name != nullptr) {
    gss::NameHandle mn;
    *status = gss::canonicalize_name(*request.name, gss::oids::krb5(), &mn);
    if (!status->ok()) return absl::OkStatus();
    principal = display_of(mn);
    if (canonical != nullptr) *canonical = checked_name(std::move(mn), principal);
  }
  if (!principal.empty() && !rule.principals.empty() && !principal_allowed(rule, principal)) {
    return deny(
        call, op,
        absl::StrCat("policy rule \"", rule.name, "\" does not allow acting as ", principal));
  }

  // The stores come from the rule alone; a caller may only repeat what its rule names.
  GSSGATE_ASSIGN_OR_RETURN(auto granted, granted_stores(call, initiate, accept, principal));
  if (initiate && !rule.ccache && !principal.empty()) {
    // A per-principal MEMORY cache (granted_stores): see stored_ccaches().
    std::string ccache;
    for (const auto& [key, value] : granted) {
      if (key == "ccache") ccache = value;
    }
    bool stored = false;
    {
      absl::MutexLock lock(&stored_ccaches_mu);
      stored = stored_ccaches().contains(ccache);
    }
    std::string keytab;
    if (!stored && !client_keytab_holds(call, principal, &keytab)) {
      *status = gss::check("gss_acquire_cred_from", GSS_S_NO_CRED, 0);
      status->minor_text = {absl::StrCat(
          "policy rule \"", rule.name, "\": ",
          keytab.empty() ? std::string("the rule names no client_keytab")
                         : absl::StrCat("client_keytab ", keytab),
          " holds no key for ", principal,
          ", and no credentials for it were stored (StoreCred); add its keys to the keytab, or "
          "name a principal it holds")};
      return absl::OkStatus();
    }
  }
  if (request.store != nullptr) {
    for (const auto& [key, value] : *request.store) {
      bool ok = false;
      for (const auto& [gkey, gvalue] : granted) ok = ok || (gkey == key && gvalue == value);
      if (!ok) {
        return deny(call, op,
                    absl::StrCat("store element ", key, "=", value,
                                 " is not granted by policy rule \"", rule.name, "\""));
      }
    }
  }
  // Files a caller could redirect reach MIT only as mirrors read with the caller's identity.
  for (auto& [key, value] : granted) {
    absl::StatusOr<std::string> readable = rule_store_for_mit(call, key.c_str(), value, nullptr);
    if (absl::IsPermissionDenied(readable.status())) {
      return deny(call, op, std::string(readable.status().message()));
    }
    if (!readable.ok()) {
      *status = gss::check("gss_acquire_cred_from", GSS_S_NO_CRED, 0);
      status->minor_text = {std::string(readable.status().message())};
      return absl::OkStatus();
    }
    value = *std::move(readable);
  }
  stores->elements = std::move(granted);
  return absl::OkStatus();
}

absl::Status acquire_granted(const Call& call, const CredRequest& request, gss::GssStatus* status,
                             gss::AcquiredCred* out) {
  const Rule& rule = *call.rule;
  const bool accept = request.usage != gss::CredUsage::kInitiate;
  gss::AcquireCredRequest acquire;
  for (const gss::Oid& mech : request.mechs) {
    GSSGATE_RETURN_IF_ERROR(require_mech(call, mech, "acquire"));
  }
  gss::NameHandle checked;
  GSSGATE_RETURN_IF_ERROR(
      check_acquire(call, request, "acquire", status, &acquire.store, &checked));
  if (!status->ok()) return absl::OkStatus();
  // The name that passed the check, not the caller's text (which MIT would resolve again).
  acquire.desired_name = request.name != nullptr ? &checked : nullptr;
  acquire.usage = request.usage;
  acquire.lifetime = request.lifetime;
  acquire.mechs = request.mechs.empty() ? default_acquire_mechs(rule) : request.mechs;
  *status = gss::acquire_cred(acquire, out);
  if (!status->ok() && accept) {
    if (std::string why = keytab_diagnosis(call); !why.empty()) status->minor_text.push_back(why);
  }
  if (!status->ok() && request.usage != gss::CredUsage::kAccept) {
    // With a client keytab MIT gets the TGT and stores it in the ccache right here.
    if (std::string why = ccache_diagnosis(call); !why.empty()) status->minor_text.push_back(why);
  }
  if (!status->ok()) return absl::OkStatus();
  GSSGATE_RETURN_IF_ERROR(check_acquired_principals(call, &out->cred, "acquire"));
  restrict_negotiation(rule, out->cred);
  return absl::OkStatus();
}

}  // namespace gssgate::daemon
