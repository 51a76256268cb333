// gssgated: the privileged GSSAPI daemon.
//
//   gssgated --config FILE [--log-level trace|debug|info|warn|error] [--log-format text|json]
//   gssgated --check-config FILE
//   gssgated --help | --version
//
// Exit codes: 0 clean stop (SIGTERM/SIGINT) or a valid config; 1 start-up failure; 2 usage error
// or an invalid config (the message gives file:line:column and the reason).

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/resource_quota.h>
#include <grpcpp/server_builder.h>
#include <grpcpp/server_posix.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <memory>
#include <string>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "daemon/config.h"
#include "daemon/dispatch.h"
#include "daemon/grpc_service.h"
#include "daemon/handle_table.h"
#include "daemon/health_service.h"
#include "daemon/listener.h"
#include "daemon/log_format.h"
#include "daemon/metrics.h"
#include "daemon/policy.h"
#include "daemon/replay_cache.h"
#include "daemon/sd_notify.h"
#include "daemon/service.h"
#include "daemon/wire_server.h"
#include "google/protobuf/stubs/logging.h"
#include "spdlog/sinks/stdout_sinks.h"
#include "spdlog/spdlog.h"

namespace {

using namespace gssgate::daemon;  // NOLINT: main only

constexpr char kVersion[] = "0.1.0";

constexpr char kUsage[] =
    "usage: gssgated --config FILE [--log-level LEVEL] [--log-format text|json]\n"
    "       gssgated --check-config FILE\n"
    "       gssgated --help | --version\n";

int usage(const std::string& why) {
  std::cerr << "gssgated: " << why << "\n" << kUsage;
  return 2;
}

int help() {
  std::cout << "gssgated: the gssgate daemon. It holds Kerberos keytabs and credential caches and\n"
               "serves GSSAPI to local callers, by policy, on a gRPC Unix socket and a\n"
               "SOCK_SEQPACKET wire socket (see gssgated(8) and gssgate.conf(5)).\n\n"
            << kUsage
            << "\n"
               "  --config FILE        serve with the settings and policy in FILE (TOML)\n"
               "  --check-config FILE  check FILE, print what it grants, and exit\n"
               "  --log-level LEVEL    trace, debug, info (default), warn or error\n"
               "  --log-format FORMAT  text (default) or json, one object per line\n"
               "  --help               print this help and exit\n"
               "  --version            print the version and exit\n\n"
               "Signals: SIGHUP reloads the policy; SIGTERM and SIGINT drain and stop.\n"
               "Exit status: 0 clean stop or a valid config; 1 start-up failure; 2 usage error\n"
               "or an invalid config.\n";
  return 0;
}

// Each caller connection holds three descriptors (gRPC's socket, the listener's duplicate, a
// pidfd), so the usual soft limit of 1024 would cap gssgated near 300 callers. Raise it to the
// hard limit, as servers do (systemd's default hard limit is 524288); gRPC polls with epoll, so
// no FD_SETSIZE applies.
void raise_open_files_limit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return;
  if (limit.rlim_cur < limit.rlim_max) {
    rlim_t was = limit.rlim_cur;
    limit.rlim_cur = limit.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &limit) != 0) {
      spdlog::warn("cannot raise the open files limit from {}: {}", was, std::strerror(errno));
      return;
    }
  }
}

// Defence in depth for issue #14: every credential the daemon uses comes from a rule's explicit
// store (gss_acquire_cred_from), and no step runs without one (handlers/cred_guard.h). Should MIT
// still fall back to the process defaults somewhere, those defaults must hold no identity: the
// variables below override krb5.conf's default_ccache_name, default_client_keytab_name and
// default_keytab_name, and point at an empty in-memory ccache and keytabs. Done before any thread
// starts (MIT reads them with secure_getenv at each resolution); the one exception to "no setenv".
void neutralize_default_identity() {
  setenv("KRB5CCNAME", "MEMORY:gssgated-no-default-ccache", 1);
  setenv("KRB5_CLIENT_KTNAME", "MEMORY:gssgated-no-default-client-keytab", 1);
  setenv("KRB5_KTNAME", "MEMORY:gssgated-no-default-keytab", 1);
}

// gssgated's replay cache in place of MIT's (daemon/replay_cache.h): MIT's acceptor then records
// nothing (KRB5RCACHENAME=none:, which MIT reads with secure_getenv at every accept and which
// outranks KRB5RCACHETYPE and krb5.conf's rcache_name) and every accept step records its
// AP-REQs here instead (handlers/accept_sec_context.cc, the daemon's only gss_accept_sec_context).
// Set before any thread starts, as above. A cache that cannot be opened stops the start: falling
// back to MIT's would forget the records of the last run. `summary` is for the start-up line.
absl::StatusOr<std::unique_ptr<ReplayCache>> own_replay_cache(const DaemonSettings& settings,
                                                              std::string* summary) {
  if (settings.replay_cache != DaemonSettings::ReplayCacheKind::kGssgated) {
    *summary = "MIT's (replay_cache = \"mit\")";
    return nullptr;
  }
  auto cache = ReplayCache::open(replay_cache_path(), replay_retention(krb5_clockskew()));
  if (!cache.ok()) return cache.status();
  // Records MIT made before this start (the daemon used MIT's cache until now, or replay_cache
  // was "mit") stay replays.
  const std::string mit_file = mit_replay_cache_path();
  absl::StatusOr<size_t> taken = (*cache)->take_mit_records(mit_file, absl::Now());
  if (!taken.ok()) return taken.status();
  setenv("KRB5RCACHENAME", "none:", 1);
  *summary = absl::StrCat(
      (*cache)->path(), " (", (*cache)->live(), " live records",
      *taken > 0 ? absl::StrCat(", ", *taken, " taken from MIT's ", mit_file) : std::string(),
      "; each kept ", absl::ToInt64Seconds((*cache)->retention()),
      " s, twice the clockskew and a minute)");
  return cache;
}

// libprotobuf writes its own lines to stderr ("[libprotobuf ERROR ...] String field ... contains
// invalid UTF-8 data when parsing a protocol buffer" for a caller's malformed request), which
// would break the one log format tools and the journal read. Route them through spdlog, escaped.
void protobuf_log(google::protobuf::LogLevel level, const char* file, int line,
                  const std::string& message) {
  const std::string text = absl::StrCat("protobuf (", file, ":", line, "): ", message);
  if (level >= google::protobuf::LOGLEVEL_ERROR) {
    spdlog::warn("{}", log_value(text));
  } else {
    spdlog::debug("{}", log_value(text));
  }
}

int serve(const std::string& config_path) {
  neutralize_default_identity();
  google::protobuf::SetLogHandler(&protobuf_log);
  auto loaded = load_config(config_path);
  if (!loaded.ok()) {
    spdlog::error("cannot load {}: {}", config_path, std::string(loaded.status().message()));
    return 2;
  }
  auto config = std::make_shared<const Config>(std::move(*loaded));
  raise_open_files_limit();
#ifdef NDEBUG
  // Debian's abseil keeps absl::Mutex's deadlock detector on, which records every lock order in
  // a global graph (~1.3% of the daemon's time in GraphCycles under the bench,
  // docs/performance.md). Release builds switch it off; the Debug (ASan) build keeps it, so the
  // tests still check the lock order.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
#endif

  // Signals go to the main thread's sigtimedwait loop below; block them before any thread starts.
  sigset_t signals;
  sigemptyset(&signals);
  for (int sig : {SIGHUP, SIGTERM, SIGINT}) sigaddset(&signals, sig);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  // systemd socket activation: the sockets it passed go to the listeners they name.
  const std::vector<InheritedSocket> inherited = inherited_sockets();
  auto from_systemd = match_inherited(config->listeners, inherited);
  if (!from_systemd.ok()) {
    spdlog::error("cannot listen: {}", std::string(from_systemd.status().message()));
    return 1;
  }
  for (const InheritedSocket& unused : from_systemd->unused) {
    spdlog::warn("systemd passed a socket no listener takes (fd {}, {}); closing it", unused.fd,
                 unused.path.empty() ? "no path" : unused.path);
    close(unused.fd);
  }
  std::vector<std::unique_ptr<Listener>> listeners;
  std::vector<const Listener*> grpc_listeners, wire_listeners;
  // The listeners as they serve (a socket from systemd keeps the unit's path): what a reload
  // fits the new policy to.
  std::vector<ListenerSettings> serving;
  for (size_t i = 0; i < config->listeners.size(); ++i) {
    ListenerSettings settings = config->listeners[i];
    const std::optional<InheritedSocket>& passed = from_systemd->taken[i];
    if (passed && !passed->path.empty() && !same_socket_path(passed->path, settings.path)) {
      // Only where the file has no [[listener]] (taken by type): the unit's path is served.
      spdlog::warn("listener {}: systemd passed the socket at {}, not {} as in {}; serving {}",
                   settings.name, passed->path, settings.path, config_path, passed->path);
      settings.path = passed->path;
    }
    auto listener = Listener::create(settings, config->daemon, passed ? passed->fd : -1);
    if (!listener.ok()) {
      spdlog::error("cannot listen on {} (listener {}): {}", settings.path, settings.name,
                    std::string(listener.status().message()));
      return 1;
    }
    (settings.transport == ListenerSettings::Transport::kWire ? wire_listeners : grpc_listeners)
        .push_back(listener->get());
    serving.push_back(settings);
    listeners.push_back(*std::move(listener));
  }
  // After the sockets (a second daemon on them is told so first), before any thread starts.
  std::string replay_summary;
  absl::StatusOr<std::unique_ptr<ReplayCache>> own_cache =
      own_replay_cache(config->daemon, &replay_summary);
  if (!own_cache.ok()) {
    spdlog::error("cannot use the replay cache: {}; fix that, or set replay_cache = \"mit\" in {}",
                  std::string(own_cache.status().message()), config_path);
    return 1;
  }
  std::unique_ptr<ReplayCache> replay_cache = *std::move(own_cache);
  auto connections = [&listeners] {
    size_t n = 0;
    for (const auto& l : listeners) n += l->connection_count();
    return n;
  };

  HandleTable table;
  table.set_max_total(static_cast<size_t>(config->daemon.max_handles_total));
  Service service(config, &table);
  service.set_replay_cache(replay_cache.get());
  Metrics metrics;
  // One dispatcher for both transports: a uid's share of the threads counts its calls on both.
  Dispatcher dispatcher(&service, &metrics);
  dispatcher.set_max_calls_per_uid(std::max(1, config->daemon.max_threads / 4));
  GrpcService grpc_service(&dispatcher, grpc_listeners);
  // SIGHUP and the Reload RPC share this. One reload at a time: two that overlap could otherwise
  // install what the earlier one read after what the later one read, leaving an older policy in
  // force than the file says. Serialized, the last to finish read the file last.
  absl::Mutex reload_mu;
  auto reload = [&service, &config_path, &reload_mu, &serving]() -> absl::StatusOr<size_t> {
    absl::MutexLock lock(&reload_mu);
    auto reloaded = load_config(config_path);
    if (reloaded.ok()) fit_to_running_sockets(serving, &*reloaded);
    if (!reloaded.ok()) {
      spdlog::error("reload failed, keeping the current rules: {}",
                    std::string(reloaded.status().message()));
      return reloaded.status();
    }
    size_t rules = reloaded->rules.size();
    service.set_config(std::make_shared<const Config>(std::move(*reloaded)));
    if (ReplayCache* cache = service.replay_cache()) {
      // MIT reads krb5.conf's clockskew afresh for each context; every record follows it now.
      cache->set_retention(replay_retention(krb5_clockskew()));
    }
    spdlog::info(
        "reloaded {}: {} rule(s); the listeners' rules apply now, their sockets, modes "
        "and limits (and the rest of [daemon]) at restart",
        config_path, rules);
    return rules;
  };
  service.set_runtime(
      Runtime{.version = kVersion,
              .started = absl::Now(),
              .connections = connections,
              .reload = reload,
              .metrics =
                  [&metrics, &table, &connections] {
                    return metrics.render(Gauges{.credentials = table.count(HandleKind::kCred),
                                                 .contexts = table.count(HandleKind::kContext),
                                                 .connections = connections()});
                  },
              .listeners =
                  [&listeners] {
                    std::vector<ListenerState> out;
                    for (const auto& l : listeners) {
                      out.push_back(ListenerState{l->name(), l->path(), l->transport(),
                                                  l->connection_count()});
                    }
                    return out;
                  }});

  // Our own sync health service, not gRPC's callback one (daemon/health_service.h: that one made
  // every call slower). Reflection's service is a sync one already.
  HealthService health;
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  builder.RegisterService(&grpc_service);
  builder.RegisterService(&health);
  builder.SetMaxReceiveMessageSize(config->daemon.max_message_bytes);
  builder.SetMaxSendMessageSize(config->daemon.max_message_bytes);
  if (config->daemon.workers > 0) {
    builder.SetSyncServerOption(grpc::ServerBuilder::SyncServerOption::MAX_POLLERS,
                                config->daemon.workers);
  }
  // gRPC's sync server starts a thread for each call that finds every thread busy; the quota
  // bounds them (issue #14, item 4), and the stream limit bounds what one connection has in
  // flight. Both apply at start only, like the other [daemon] settings.
  grpc::ResourceQuota quota("gssgated");
  quota.SetMaxThreads(config->daemon.max_threads);
  builder.SetResourceQuota(quota);
  builder.AddChannelArgument(GRPC_ARG_MAX_CONCURRENT_STREAMS,
                             config->daemon.max_streams_per_connection);
  // No listening ports: every connection comes from our own accept loop, with its caller known.
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (!server) {
    spdlog::error("gRPC server failed to start");
    return 1;
  }
  auto on_gone = [&table](const Peer& peer, bool closed, const std::string& why) {
    size_t released = closed ? table.connection_closed(peer.connection)
                             : table.release_connection(peer.connection);
    if (released > 0) {
      spdlog::info("released {} handle(s) of uid={} pid={}: {}", released, peer.uid, peer.pid, why);
    }
  };
  auto has_rule = [&service](const Peer& peer) {
    // The policy of this moment; a later reload applies to later connections.
    return admit(*service.config(), peer);
  };
  for (const auto& l : listeners) {
    if (l->transport() != ListenerSettings::Transport::kGrpc) continue;
    l->start([&server](int fd) { grpc::AddInsecureChannelFromFd(server.get(), fd); }, on_gone,
             has_rule);
  }
  // The wire transport: one server for every wire listener, its own workers, started as gRPC's
  // pool starts (workers, or one per core), growing to max_threads.
  std::unique_ptr<WireServer> wire;
  if (!wire_listeners.empty()) {
    const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    wire = std::make_unique<WireServer>(
        &dispatcher,
        [&wire_listeners](int fd) -> std::optional<Peer> {
          for (const Listener* l : wire_listeners) {
            if (std::optional<Peer> peer = l->peer_for_fd(fd)) return peer;
          }
          return std::nullopt;
        },
        config->daemon.max_message_bytes,
        config->daemon.workers > 0 ? config->daemon.workers : cores, config->daemon.max_threads);
    WireMethods::get();  // aborts here, not at the first call, if the method table is wrong
    wire->start();
    for (const auto& l : listeners) {
      if (l->transport() != ListenerSettings::Transport::kWire) continue;
      l->start([w = wire.get()](int fd) { w->add(fd); }, on_gone, has_rule);
    }
  }

  const char* krb5_config = std::getenv("KRB5_CONFIG");
  std::vector<std::string> served;
  for (size_t i = 0; i < listeners.size(); ++i) {
    served.push_back(absl::StrCat(
        listeners[i]->path(), " (", transport_name(listeners[i]->transport()), " listener ",
        listeners[i]->name(), from_systemd->taken[i] ? ", socket from systemd" : "", ")"));
  }
  spdlog::info("gssgated {} serving on {}; {} rule(s) from {}; krb5 config {}; replay cache {}",
               kVersion, absl::StrJoin(served, ", "), config->rules.size(), config_path,
               krb5_config ? krb5_config : "/etc/krb5.conf", replay_summary);

  Notifier systemd = Notifier::from_environment();
  systemd.notify(
      absl::StrCat("READY=1\nMAINPID=", getpid(), "\nSTATUS=serving on ", listeners[0]->path()));

  // The loop wakes for signals, the idle sweep and, under a systemd watchdog, its keep-alive.
  const int idle = config->daemon.idle_timeout_seconds;
  absl::Duration tick = absl::Seconds(std::min(idle, 30) > 0 ? std::min(idle, 30) / 2 + 1 : 1);
  if (systemd.watchdog_interval()) tick = std::min(tick, *systemd.watchdog_interval());
  const timespec tick_spec = absl::ToTimespec(tick);
  for (;;) {
    siginfo_t info{};
    int sig = sigtimedwait(&signals, &info, &tick_spec);
    // Not for SIGTERM/SIGINT: systemd disarms the watchdog when a stop begins, and a WATCHDOG=1
    // then would arm it again, so a drain longer than WatchdogSec= ended in SIGABRT (seen under a
    // real systemd: tests/systemd/nspawn_test.sh). TimeoutStopSec= bounds the drain instead.
    if (systemd.watchdog_interval() && sig != SIGTERM && sig != SIGINT) {
      systemd.notify("WATCHDOG=1");
    }
    if (sig < 0) {
      size_t expired =
          table.expire_idle(absl::Seconds(service.config()->daemon.idle_timeout_seconds));
      if (expired > 0) spdlog::info("released {} idle handle(s)", expired);
      // MIT reads krb5.conf's clockskew afresh for every context, SIGHUP or not: so does the
      // replay cache, at each tick.
      if (replay_cache) replay_cache->set_retention(replay_retention(krb5_clockskew()));
      continue;
    }
    if (sig == SIGHUP) {
      systemd.notify("RELOADING=1\nSTATUS=reloading the policy");
      if (!reload().ok()) {
        systemd.notify("READY=1\nSTATUS=reload failed; serving with the previous policy");
        continue;
      }
      systemd.notify(absl::StrCat("READY=1\nSTATUS=serving on ", listeners[0]->path()));
      continue;
    }
    spdlog::info("signal {}: draining (no new connections; running calls finish)", sig);
    systemd.notify("STOPPING=1\nSTATUS=draining");
    health.draining();
    for (const auto& l : listeners) l->stop();
    server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(10));
    if (wire) wire->stop();
    spdlog::info("stopped; releasing {} handle(s)", table.size());
    return 0;
  }
}

}  // namespace

int main(int argc, char** argv) {
  // The daemon's own GSSAPI calls must reach MIT's krb5, never the gssgate interposer (which
  // would send them back here): whatever environment started us, it does not interpose in this
  // process. (The module also declines in a program named gssgated; docs/transparent.md.)
  setenv("GSSGATE_INTERPOSE", "0", 1);
  std::string config_path;
  bool check_only = false;
  std::string level = "info";
  std::string log_format = "text";
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--help") return help();
    if (arg == "--version") {
      std::cout << "gssgated " << kVersion << "\n";
      return 0;
    }
    if ((arg == "--config" || arg == "--check-config" || arg == "--log-level" ||
         arg == "--log-format") &&
        i + 1 < argc) {
      std::string value = argv[++i];
      if (arg == "--log-format") {
        if (value != "text" && value != "json") return usage("--log-format is text or json");
        log_format = value;
      } else if (arg == "--log-level") {
        level = value;
      } else {
        config_path = value;
        check_only = arg == "--check-config";
      }
    } else {
      return usage("unknown or incomplete option " + arg);
    }
  }
  if (config_path.empty()) return usage("--config or --check-config is required");

  if (check_only) {
    auto config = load_config(config_path);
    if (!config.ok()) {
      std::cerr << config.status().message() << "\n";
      return 2;
    }
    std::cout << config_path << ": OK\n" << describe(*config);
    return 0;
  }

  auto logger = spdlog::stderr_logger_mt("gssgated");
  spdlog::set_default_logger(logger);
  // Under systemd (JOURNAL_STREAM: stderr is the journal) lines carry "<N>" priorities, so
  // `journalctl -p warning` works; --log-format json makes one JSON object per line.
  spdlog::set_formatter(
      make_log_formatter(log_format == "json" ? LogFormat::kJson : LogFormat::kText,
                         is_journal_stream(STDERR_FILENO, std::getenv("JOURNAL_STREAM"))));
  spdlog::set_level(spdlog::level::from_str(level));
  return serve(config_path);
}
