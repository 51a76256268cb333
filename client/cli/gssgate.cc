// gssgate: the command-line face of gssgated, built on libgssgate only.
//
//   gssgate [--socket PATH] [--json] [--timeout SECONDS] COMMAND [OPTIONS]
//
// Commands: status, whoami, acquire, init, accept, handles, reload, metrics, interpose-check
// (`gssgate help` lists them with their options). Human output by default, one JSON object with
// --json.
//
// Exit codes (also in `gssgate help` and gssgate(1)):
//   0 success; 1 a GSSAPI failure; 2 usage error; 3 the daemon cannot be reached;
//   4 refused by policy; 5 any other error; 6 interpose-check: the program would not interpose.

#include "gssgate/gssgate.h"

#include <dirent.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpcpp/grpcpp.h"
#include "lib/util/json.h"

namespace {

using namespace gssgate;  // NOLINT: a command's main file

enum Exit {
  kOk = 0,
  kGssFailure = 1,
  kUsage = 2,
  kUnreachable = 3,
  kDenied = 4,
  kOther = 5,
  kNotInterposing = 6
};

constexpr char kHelp[] =
    R"(usage: gssgate [--socket PATH] [--json] [--timeout SECONDS] COMMAND [OPTIONS]

Talks to gssgated (socket: --socket, else $GSSGATE_SOCKET, else /run/gssgate/gssgate.sock).

commands:
  status                     daemon version, uptime, live handles, connections, rules, and
                             listeners (your own; every one with admin in the policy)
  health                     whether the daemon serves (grpc.health.v1 on the gRPC socket; no
                             policy rule needed, for probes): exit 0 SERVING, 3 nobody
                             answers, 5 any other answer
  whoami                     how the daemon sees you: uid, gid, pid, matched rule, its grants
  acquire [--name NAME] [--principal] [--usage initiate|accept|both] [--lifetime SECONDS]
                             acquire credentials and show them (NAME is hostbased, e.g.
                             HTTP@host, unless --principal)
  init TARGET [--principal] [--negotiate] [--delegate] [--mech krb5|spnego]
                             start a handshake with TARGET and print the first token
                             (--negotiate: as an HTTP "Authorization: Negotiate" header)
  accept TOKEN|-             accept a base64 token (or "Negotiate <token>"; - reads stdin) and
                             print the initiator, flags, lifetime and any reply token
  handles [--all]            your live handles (--all: everyone's; needs admin in the policy)
  reload                     make the daemon re-read its policy (needs admin in the policy)
  metrics                    the daemon's metrics, Prometheus text format (needs admin)
  interpose-check [--pid PID]
                             whether a program with this environment (or process PID's) would
                             send its GSSAPI calls to gssgated through the interposer, and why
                             not (docs/transparent.md); --socket does not apply to it
  help                       this text

exit codes: 0 ok, 1 GSSAPI failure, 2 usage error, 3 daemon not reachable, 4 refused by policy,
            5 other error, 6 interpose-check: the program would not interpose
)";

// ---- output: the same facts as text or as one JSON object -------------------------------------

using util::json_quote;

// Ordered key/value facts; values are already JSON (strings quoted by str()).
class Output {
 public:
  explicit Output(bool json) : json_(json) {}
  Output& str(const std::string& key, const std::string& value) {
    return raw(key, json_quote(value), value);
  }
  Output& num(const std::string& key, uint64_t value) {
    return raw(key, std::to_string(value), std::to_string(value));
  }
  Output& boolean(const std::string& key, bool value) {
    return raw(key, value ? "true" : "false", value ? "yes" : "no");
  }
  Output& list(const std::string& key, const std::vector<std::string>& values) {
    std::string j = "[";
    std::string t;
    for (size_t i = 0; i < values.size(); ++i) {
      j += (i ? ", " : "") + json_quote(values[i]);
      t += (i ? ", " : "") + values[i];
    }
    return raw(key, j + "]", t.empty() ? "(none)" : t);
  }
  // A list of objects, each given as its own Output.
  Output& objects(const std::string& key, const std::vector<Output>& items) {
    std::string j = "[";
    std::string t;
    for (size_t i = 0; i < items.size(); ++i) {
      j += (i ? ", " : "") + items[i].json();
      t += "\n  " + items[i].line();
    }
    return raw(key, j + "]", items.empty() ? "(none)" : t);
  }
  bool is_json() const { return json_; }
  void print() const { std::cout << (json_ ? json() + "\n" : text()); }

  std::string json() const {
    std::string out = "{";
    for (size_t i = 0; i < facts_.size(); ++i) {
      out += (i ? ", " : "") + json_quote(facts_[i].key) + ": " + facts_[i].json;
    }
    return out + "}";
  }
  std::string text() const {
    size_t width = 0;
    for (const Fact& f : facts_) width = std::max(width, f.key.size());
    std::string out;
    for (const Fact& f : facts_) {
      out += f.key + ":" + std::string(width - f.key.size() + 1, ' ') + f.text + "\n";
    }
    return out;
  }
  std::string line() const {
    std::string out;
    for (const Fact& f : facts_) out += (out.empty() ? "" : "  ") + f.key + "=" + f.text;
    return out;
  }

 private:
  struct Fact {
    std::string key, json, text;
  };
  Output& raw(const std::string& key, std::string json, std::string text) {
    facts_.push_back(Fact{key, std::move(json), std::move(text)});
    return *this;
  }
  bool json_;
  std::vector<Fact> facts_;
};

std::string lifetime_text(std::optional<uint32_t> lifetime) {
  return lifetime ? std::to_string(*lifetime) + "s" : "indefinite";
}

std::vector<std::string> flag_names(const RequirementFlagSet& flags) {
  std::vector<std::string> out;
  for (RequirementFlag f : flags.members()) out.push_back(to_string(f));
  return out;
}

std::vector<std::string> oid_names(const std::set<OID>& oids) {
  std::vector<std::string> out;
  for (const OID& o : oids) {
    if (o == MechType::kerberos()) {
      out.push_back("krb5 (" + o.dotted_form() + ")");
    } else if (o == MechType::spnego()) {
      out.push_back("spnego (" + o.dotted_form() + ")");
    } else {
      out.push_back(o.dotted_form());
    }
  }
  return out;
}

// ---- arguments ---------------------------------------------------------------------------------

struct Args {
  std::vector<std::string> positional;
  std::map<std::string, std::string> options;  // --key value, or --flag → "1"
  bool has(const std::string& k) const { return options.count(k) != 0; }
  std::string get(const std::string& k, const std::string& fallback = "") const {
    auto it = options.find(k);
    return it == options.end() ? fallback : it->second;
  }
};

struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Parses the words after the command; `valued` options take the next word.
Args parse(const std::vector<std::string>& words, const std::vector<std::string>& valued,
           const std::vector<std::string>& flags) {
  Args a;
  for (size_t i = 0; i < words.size(); ++i) {
    const std::string& w = words[i];
    if (w.size() > 2 && w.rfind("--", 0) == 0) {
      std::string key = w.substr(2);
      if (std::find(valued.begin(), valued.end(), key) != valued.end()) {
        if (i + 1 >= words.size()) throw UsageError("--" + key + " needs a value");
        a.options[key] = words[++i];
      } else if (std::find(flags.begin(), flags.end(), key) != flags.end()) {
        a.options[key] = "1";
      } else {
        throw UsageError("unknown option " + w);
      }
    } else {
      a.positional.push_back(w);
    }
  }
  return a;
}

Name target_name(const std::string& text, bool principal, const std::shared_ptr<Connection>& conn) {
  return Name(text, principal ? NameType::kerberos_principal() : NameType::hostbased_service(),
              conn);
}

// ---- commands ----------------------------------------------------------------------------------

int cmd_status(const Args&, const std::shared_ptr<Connection>& conn, Output& out) {
  DaemonStatus s = daemon_status(conn);
  out.str("daemon", "serving").str("socket", conn->socket()).str("version", s.version);
  out.num("uptime_seconds", s.uptime_seconds).num("live_handles", s.live_handles);
  out.num("connections", s.connections).num("rules", s.rules);
  std::vector<Output> listeners;
  for (const ListenerInfo& l : s.listeners) {
    Output item(out.is_json());
    item.str("name", l.name).str("path", l.path).str("transport", l.transport);
    item.num("connections", l.connections);
    if (l.all_rules) {
      item.str("rules", "all");
    } else if (!l.rules.empty()) {
      item.list("rules", l.rules);
    }
    listeners.push_back(std::move(item));
  }
  out.objects("listeners", listeners);
  return kOk;
}

// grpc.health.v1 on the gRPC socket: answered without a policy rule (a probe runs as whoever the
// orchestrator runs it as). A daemon that drains stops accepting at once, so a probe then finds
// nobody (exit 3) more often than NOT_SERVING (exit 5).
int cmd_health(const Args&, const std::shared_ptr<Connection>& conn, Output& out) {
  std::string socket = conn->socket();
  if (conn->transport() == Transport::kWire) {
    throw UsageError("health asks the gRPC socket; " + socket + " is a wire socket");
  }
  if (socket.rfind("unix:", 0) == 0) socket = socket.substr(5);
  auto channel = grpc::CreateChannel("unix:" + socket, grpc::InsecureChannelCredentials());
  auto stub = grpc::health::v1::Health::NewStub(channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + conn->timeout());
  grpc::health::v1::HealthCheckResponse reply;
  const grpc::Status status = stub->Check(&context, grpc::health::v1::HealthCheckRequest(), &reply);
  out.str("socket", socket);
  if (status.error_code() == grpc::StatusCode::UNAVAILABLE ||
      status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) {
    throw ConnectionError(socket, status.error_message());
  }
  if (!status.ok()) {
    throw std::runtime_error("the health check at " + socket + " failed: " +
                             status.error_message() + " (is it gssgated's gRPC socket?)");
  }
  const bool serving = reply.status() == grpc::health::v1::HealthCheckResponse::SERVING;
  out.str("health", grpc::health::v1::HealthCheckResponse::ServingStatus_Name(reply.status()));
  return serving ? kOk : kOther;
}

int cmd_whoami(const Args&, const std::shared_ptr<Connection>& conn, Output& out) {
  WhoAmIResult w = whoami(conn);
  std::vector<std::string> groups;
  for (uint32_t g : w.groups) groups.push_back(std::to_string(g));
  out.num("uid", w.uid).num("gid", w.gid).num("pid", static_cast<uint64_t>(w.pid));
  out.list("groups", groups).str("cgroup", w.cgroup.empty() ? "(unknown)" : w.cgroup);
  out.str("systemd_unit", w.systemd_unit.empty() ? "(none)" : w.systemd_unit);
  out.str("executable", w.executable.empty() ? "(unknown)" : w.executable);
  if (!w.executable_sha256.empty()) out.str("executable_sha256", w.executable_sha256);
  out.str("listener", w.listener);
  out.str("rule", w.rule).list("grants", w.grants);
  out.list("principals",
           w.principals.empty() ? std::vector<std::string>{"any in the stores"} : w.principals);
  out.list("stores", w.stores).num("live_handles", w.live_handles);
  out.num("max_handles", w.max_handles);
  return kOk;
}

int cmd_acquire(const Args& a, const std::shared_ptr<Connection>& conn, Output& out) {
  CredentialsOptions options{.usage = a.get("usage", "both"), .connection = conn};
  if (a.has("name")) options.name = target_name(a.get("name"), a.has("principal"), conn);
  if (a.has("lifetime")) {
    const std::string text = a.get("lifetime");
    char* end = nullptr;
    unsigned long seconds = std::strtoul(text.c_str(), &end, 10);
    if (text.empty() || *end != '\0' || seconds > 0xfffffffeul) {
      throw UsageError("--lifetime takes seconds (a whole number)");
    }
    options.lifetime = static_cast<uint32_t>(seconds);
  }
  AcquireCredResult r = Credentials::acquire(options);
  InquireCredResult info = r.creds.inquire();
  out.str("name", info.name ? info.name->str() : "(any in the keytab)");
  out.str("usage", info.usage.value_or("?")).str("lifetime", lifetime_text(r.lifetime));
  out.list("mechs", oid_names(r.mechs));
  return kOk;
}

int cmd_init(const Args& a, const std::shared_ptr<Connection>& conn, Output& out) {
  if (a.positional.size() != 1) throw UsageError("init takes one TARGET (e.g. HTTP@web.example)");
  RequirementFlagSet flags{RequirementFlag::mutual_authentication,
                           RequirementFlag::out_of_sequence_detection};
  if (a.has("delegate")) flags.add(RequirementFlag::delegate_to_peer);
  std::string mech = a.get("mech", a.has("negotiate") ? "spnego" : "krb5");
  if (mech != "krb5" && mech != "spnego") throw UsageError("--mech is krb5 or spnego");
  SecurityContext ctx({.name = target_name(a.positional[0], a.has("principal"), conn),
                       .flags = flags,
                       .mech = mech == "spnego" ? MechType::spnego() : MechType::kerberos(),
                       .usage = "initiate",
                       .connection = conn});
  std::optional<std::string> token = ctx.step();
  std::string b64 = token ? absl::Base64Escape(*token) : "";
  out.str("target", a.positional[0]).str("mech", mech).list("requested_flags", flag_names(flags));
  out.boolean("complete", ctx.complete()).num("token_bytes", token ? token->size() : 0);
  if (a.has("negotiate")) {
    out.str("header", "Authorization: Negotiate " + b64);
  } else {
    out.str("token", b64);
  }
  return kOk;
}

int cmd_accept(const Args& a, const std::shared_ptr<Connection>& conn, Output& out) {
  if (a.positional.size() != 1) throw UsageError("accept takes one TOKEN (base64, or - for stdin)");
  std::string text = a.positional[0];
  if (text == "-") std::getline(std::cin, text);
  for (const char* prefix : {"Authorization: ", "Negotiate "}) {
    if (text.rfind(prefix, 0) == 0) text = text.substr(std::string(prefix).size());
  }
  std::string token;
  if (!absl::Base64Unescape(text, &token) || token.empty()) {
    throw UsageError("the token is not base64");
  }
  SecurityContext ctx({.usage = "accept", .connection = conn});
  std::optional<std::string> reply = ctx.step(token);
  out.boolean("complete", ctx.complete());
  if (ctx.complete()) {
    out.str("initiator", ctx.initiator_name().str()).str("target", ctx.target_name().str());
    out.str("mech", ctx.mech().dotted_form()).list("flags", flag_names(ctx.actual_flags()));
    out.str("lifetime", lifetime_text(ctx.lifetime()));
  }
  out.num("reply_token_bytes", reply ? reply->size() : 0);
  if (reply) out.str("reply_token", absl::Base64Escape(*reply));
  return kOk;
}

int cmd_handles(const Args& a, const std::shared_ptr<Connection>& conn, Output& out) {
  std::vector<Output> items;
  std::vector<HandleInfo> handles = list_handles(a.has("all"), conn);
  for (const HandleInfo& h : handles) {
    Output item(false);
    item.str("kind", h.kind).num("uid", h.uid).num("connection", h.connection);
    item.num("idle_seconds", h.idle_seconds);
    items.push_back(std::move(item));
  }
  out.num("count", handles.size()).objects("handles", items);
  return kOk;
}

int cmd_reload(const Args&, const std::shared_ptr<Connection>& conn, Output& out) {
  out.str("reloaded", "yes").num("rules", reload_policy(conn));
  return kOk;
}

// Prints the exposition text as is (with --json: as {"metrics": "<text>"}).
int cmd_metrics(const Args&, const std::shared_ptr<Connection>& conn, Output& out) {
  std::string text = metrics_text(conn);
  if (out.is_json()) {
    out.str("metrics", text);
  } else {
    std::cout << text;
  }
  return kOk;
}

// ---- interpose-check ---------------------------------------------------------------------------

// What MIT's libgssapi_krb5 and the interposer module will see in a process: its environment, and
// whether it runs with AT_SECURE (then secure_getenv, which both use, returns nothing).
struct ProcessView {
  std::map<std::string, std::string> env;
  bool secure = false;
  std::string name;  // the program's name as /proc/PID/comm gives it
  uid_t uid = 0;     // its real uid
};

std::string read_whole(const std::string& path) {
  FILE* f = std::fopen(path.c_str(), "re");
  if (f == nullptr) {
    throw std::runtime_error("cannot read " + path + ": " + std::strerror(errno) +
                             " (run as root or as the process's user)");
  }
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), f)) > 0) out.append(buf, n);
  std::fclose(f);
  return out;
}

ProcessView view_of(const std::string& pid) {
  ProcessView view;
  const std::string proc = "/proc/" + pid;
  const std::string environ = read_whole(proc + "/environ");
  for (size_t start = 0; start < environ.size();) {
    size_t end = environ.find('\0', start);
    if (end == std::string::npos) end = environ.size();
    const std::string entry = environ.substr(start, end - start);
    const size_t eq = entry.find('=');
    if (eq != std::string::npos) view.env[entry.substr(0, eq)] = entry.substr(eq + 1);
    start = end + 1;
  }
  // The auxiliary vector: pairs of (type, value) words; AT_SECURE is type 23.
  const std::string auxv = read_whole(proc + "/auxv");
  for (size_t i = 0; i + 2 * sizeof(unsigned long) <= auxv.size(); i += 2 * sizeof(unsigned long)) {
    unsigned long type, value;
    std::memcpy(&type, auxv.data() + i, sizeof(type));
    std::memcpy(&value, auxv.data() + i + sizeof(type), sizeof(value));
    if (type == 23) view.secure = value != 0;
  }
  const std::string status = read_whole(proc + "/status");
  const size_t uid_at = status.find("\nUid:");
  if (uid_at != std::string::npos)
    view.uid = std::strtoul(status.c_str() + uid_at + 5, nullptr, 10);
  view.name = read_whole(proc + "/comm");
  while (!view.name.empty() && view.name.back() == '\n') view.name.pop_back();
  return view;
}

// The mech config line that loads gssgate's interposer, as MIT reads its configuration: the file
// GSS_MECH_CONFIG names (honoured only without AT_SECURE), else /etc/gss/mech and
// /etc/gss/mech.d/*.conf. Empty if none does.
struct MechLine {
  std::string file;
  std::string module;
};

std::optional<MechLine> find_interposer_line(const ProcessView& view) {
  std::vector<std::string> files;
  auto config = view.env.find("GSS_MECH_CONFIG");
  if (!view.secure && config != view.env.end() && !config->second.empty()) {
    files.push_back(config->second);
  } else {
    files.push_back("/etc/gss/mech");
    std::vector<std::string> parts;
    if (DIR* dir = opendir("/etc/gss/mech.d")) {
      while (dirent* e = readdir(dir)) {
        const std::string n = e->d_name;
        if (n.size() > 5 && n.compare(n.size() - 5, 5, ".conf") == 0) {
          parts.push_back("/etc/gss/mech.d/" + n);
        }
      }
      closedir(dir);
    }
    std::sort(parts.begin(), parts.end());
    files.insert(files.end(), parts.begin(), parts.end());
  }
  for (const std::string& file : files) {
    std::string text;
    try {
      text = read_whole(file);
    } catch (const std::runtime_error&) {
      continue;
    }
    for (absl::string_view line : absl::StrSplit(text, '\n')) {
      const std::vector<absl::string_view> fields =
          absl::StrSplit(line, absl::ByAnyChar(" \t"), absl::SkipEmpty());
      if (fields.size() < 4 || fields[0][0] == '#') continue;
      const absl::string_view module = fields[2];
      const bool interposer = absl::StrContains(line, "<interposer>");
      const size_t slash = module.rfind('/');
      if (interposer && module.substr(slash == absl::string_view::npos ? 0 : slash + 1) ==
                            "gssgate-interposer.so") {
        return MechLine{file, std::string(module)};
      }
    }
  }
  return std::nullopt;
}

int cmd_interpose_check(const Args& a, const std::shared_ptr<Connection>&, Output& out) {
  const std::string pid = a.get("pid", "self");
  if (pid != "self" && pid.find_first_not_of("0123456789") != std::string::npos) {
    throw UsageError("--pid takes a process id");
  }
  const ProcessView view = view_of(pid);
  std::vector<std::string> reasons;
  out.str("process", pid == "self" ? "this shell's environment" : pid + " (" + view.name + ")");
  const std::optional<MechLine> line = find_interposer_line(view);
  if (line) {
    out.str("mech_config", line->file).str("module", line->module);
    if (access(line->module.c_str(), R_OK) != 0) {
      reasons.push_back(line->module + " is missing or unreadable; reinstall gssgate");
    }
  } else {
    reasons.push_back(
        "no mech config line loads gssgate-interposer.so (install /etc/gss/mech.d/gssgate.conf, "
        "or set GSS_MECH_CONFIG to a file that has it)");
  }
  // As the module reads it: secure_getenv, so an AT_SECURE program has no setting of its own.
  auto opt_in = view.env.find("GSSGATE_INTERPOSE");
  const std::string setting = opt_in == view.env.end() || view.secure ? "" : opt_in->second;
  out.str("GSSGATE_INTERPOSE", view.secure       ? "(ignored: AT_SECURE)"
                               : setting.empty() ? "(unset)"
                                                 : setting);
  const bool env_opts_in = setting == "1" || setting == "yes" || setting == "fallback";
  const bool asks_policy = setting.empty();  // unset: the daemon's policy decides
  if (!env_opts_in && !asks_policy) {
    reasons.push_back("GSSGATE_INTERPOSE=" + setting +
                      " opts it out (set GSSGATE_INTERPOSE=1, or unset it and let the policy "
                      "decide)");
  }
  if (view.name == "gssgated") reasons.push_back("gssgated never interposes itself");

  auto socket_env = view.env.find("GSSGATE_SOCKET");
  std::string socket = socket_env == view.env.end() || socket_env->second.empty() || view.secure
                           ? "/run/gssgate/gssgate.wire"
                           : socket_env->second;
  if (socket.rfind("wire:", 0) == 0) socket = socket.substr(5);
  out.str("wire_socket", socket);
  if (socket.rfind("unix:", 0) == 0) {
    reasons.push_back("GSSGATE_SOCKET names the gRPC socket; the interposer needs the .wire one");
  } else if (view.uid != getuid()) {
    // The daemon names the rule of the uid that asks; another uid's cannot be asked for.
    out.str("rule", "not checked: run `gssgate interpose-check` as uid " +
                        std::to_string(view.uid) + " with the program's environment");
    if (asks_policy) {
      reasons.push_back("without GSSGATE_INTERPOSE the policy rule of uid " +
                        std::to_string(view.uid) + " decides, and it was not asked");
    }
  } else {
    try {
      auto wire = std::make_shared<Connection>(
          ConnectionOptions{.socket = "wire:" + socket, .timeout = std::chrono::seconds(5)});
      WhoAmIResult who = whoami(wire);
      out.str("daemon", "answers").str("rule", who.rule);
      const bool policy_opts_in =
          std::find(who.grants.begin(), who.grants.end(), "interpose") != who.grants.end();
      if (asks_policy) {
        out.str("opted_in", policy_opts_in ? "by policy (the rule grants interpose)" : "no");
        if (!policy_opts_in) {
          reasons.push_back(absl::StrCat("neither GSSGATE_INTERPOSE=1 in its environment",
                                         view.secure ? " (which an AT_SECURE program ignores)" : "",
                                         " nor interpose = true in its policy rule \"", who.rule,
                                         "\""));
        }
      } else if (env_opts_in) {
        out.str("opted_in", setting == "fallback"
                                ? "by GSSGATE_INTERPOSE=fallback (what gssgated cannot serve "
                                  "runs on the program's own keys)"
                                : "by GSSGATE_INTERPOSE=" + setting);
      }
    } catch (const PermissionDenied& e) {
      out.str("daemon", "answers");
      reasons.push_back(std::string("gssgated has no rule for this uid: ") + e.what());
    } catch (const std::exception& e) {
      out.str("daemon", "not reachable");
      reasons.push_back(std::string("gssgated does not answer at ") + socket + ": " + e.what());
    }
  }
  out.str("interpose", reasons.empty() ? "yes" : "no");
  if (!reasons.empty()) out.list("why_not", reasons);
  return reasons.empty() ? kOk : kNotInterposing;
}

struct Command {
  int (*run)(const Args&, const std::shared_ptr<Connection>&, Output&);
  std::vector<std::string> valued;
  std::vector<std::string> flags;
};

const std::map<std::string, Command>& commands() {
  static const std::map<std::string, Command> table = {
      {"status", {cmd_status, {}, {}}},
      {"health", {cmd_health, {}, {}}},
      {"whoami", {cmd_whoami, {}, {}}},
      {"acquire", {cmd_acquire, {"name", "usage", "lifetime"}, {"principal"}}},
      {"init", {cmd_init, {"mech"}, {"principal", "negotiate", "delegate"}}},
      {"accept", {cmd_accept, {}, {}}},
      {"handles", {cmd_handles, {}, {"all"}}},
      {"reload", {cmd_reload, {}, {}}},
      {"metrics", {cmd_metrics, {}, {}}},
      {"interpose-check", {cmd_interpose_check, {"pid"}, {}}},
  };
  return table;
}

int fail(int code, const std::string& message, bool json) {
  if (json) {
    std::cout << "{\"error\": " << json_quote(message) << ", \"exit\": " << code << "}\n";
  }
  std::cerr << "gssgate: " << message << "\n";
  return code;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> words(argv + 1, argv + argc);
  std::string socket;
  bool json = false;
  int timeout = 30;
  size_t i = 0;
  for (; i < words.size() && words[i].rfind("--", 0) == 0; ++i) {
    if (words[i] == "--json") {
      json = true;
    } else if (words[i] == "--socket" && i + 1 < words.size()) {
      socket = words[++i];
    } else if (words[i] == "--timeout" && i + 1 < words.size()) {
      timeout = std::atoi(words[++i].c_str());
    } else if (words[i] == "--help") {
      std::cout << kHelp;
      return kOk;
    } else {
      std::cerr << "gssgate: unknown option " << words[i] << "\n" << kHelp;
      return kUsage;
    }
  }
  if (i == words.size() || words[i] == "help") {
    std::cout << kHelp;
    return i == words.size() ? kUsage : kOk;
  }
  const std::string name = words[i];
  auto it = commands().find(name);
  if (it == commands().end()) {
    std::cerr << "gssgate: unknown command " << name << "\n" << kHelp;
    return kUsage;
  }
  std::vector<std::string> rest(words.begin() + static_cast<long>(i) + 1, words.end());
  if (std::find(rest.begin(), rest.end(), "--help") != rest.end()) {
    std::cout << kHelp;
    return kOk;
  }

  ConnectionOptions options;
  if (!socket.empty()) options.socket = socket;
  if (timeout > 0) options.timeout = std::chrono::seconds(timeout);
  auto conn = std::make_shared<Connection>(options);
  Output out(json);
  try {
    Args args = parse(rest, it->second.valued, it->second.flags);
    int code = it->second.run(args, conn, out);
    out.print();
    return code;
  } catch (const UsageError& e) {
    std::cerr << "gssgate " << name << ": " << e.what() << "\n";
    return kUsage;
  } catch (const ConnectionError& e) {
    return fail(kUnreachable,
                "daemon not running at " + conn->socket() +
                    " (start it with `systemctl start gssgated`, or pass --socket): " + e.what(),
                json);
  } catch (const PermissionDenied& e) {
    return fail(kDenied,
                // The daemon's text names its policy file and what to change; only the
                // administrator of that file can.
                std::string(e.what()) + " (ask the administrator of gssgated to grant it)", json);
  } catch (const GSSError& e) {
    return fail(kGssFailure, e.what(), json);
  } catch (const std::exception& e) {
    return fail(kOther, e.what(), json);
  }
}
