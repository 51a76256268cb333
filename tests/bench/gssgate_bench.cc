// gssgate-bench: gssgated side by side with in-process MIT krb5 and a bare gRPC echo, on a real
// throwaway realm, all measured in one run and reported as ratios (the machines are shared and
// noisy: absolute numbers from different runs do not compare, ratios from one run do).
//
//   gssgate-bench [--seconds S] [--rounds N] [--handles N] [--connections N] [--chart FILE.png]
//                 [--json FILE] [--profile-noop SECONDS] [--profile-accept SECONDS]
//                 [--profile-module SECONDS] [--replay-cache gssgated|mit]
//
// --profile-noop S: only a realm, gssgated and S seconds of no-op calls (ContextTime) in a loop,
// printing gssgated's pid first, for `perf record -p PID` or `strace -c -f -p PID` on the daemon
// (docs/performance.md, "Where a call's time goes").
// --profile-accept S: the same for the row "handshake, acceptor through gssgated (wire)": an
// in-process MIT initiator, gssgated accepting over the wire socket, S seconds in a loop.
// --profile-module S: the same for the row "handshake, acceptor through gssgate's module": one
// child process (`pgrep -n gssgate-bench`) accepting through the interposer for S seconds.
// --replay-cache mit: the daemon keeps MIT's replay cache instead of its own (docs/daemon.md), to
// measure what its own saves.
//
// Each rate row runs N rounds of about S/N seconds after a short warm-up and reports the median.
// The targets are DESIGN.md §7 / issue 6's; the last column says whether this run met them.
// Not timed assertions: nothing here fails a test.
//
// Some rows run in a child process (the bench re-executes itself with --child): the interposer
// rows (gssgate's module, gssproxy's), because MIT's mechglue loads interposers once per process
// at its first GSS call, from that process's environment; and the
// memory rows, so that each RSS delta belongs to one kind of object only.

#include <fcntl.h>
#include <grpcpp/grpcpp.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "daemon/handle_table.h"
#include "daemon/listener.h"
#include "echo.grpc.pb.h"
#include "gssgate/gssgate.h"
#include "gssgate/v1/gssgate.grpc.pb.h"
#include "lib/gss/context.h"
#include "lib/gss/cred.h"
#include "lib/gss/name.h"
#include "lib/util/json.h"
#include "tests/fixtures/gssgated_process.h"
#include "tests/fixtures/mini_kdc.h"
#include "tests/fixtures/subprocess.h"

namespace {

using Clock = std::chrono::steady_clock;
namespace gt = gssgate::testing;
namespace gss = gssgate::gss;

// The interposer modules' OIDs, as their mech.d files name them (ours: cmake/install_mech_d.cmake;
// gssproxy's: Debian's /etc/gss/mech.d/proxymech.conf).
constexpr char kGssgateModuleOid[] = "2.25.5955277318674287388";
constexpr char kGssproxyModuleOid[] = "2.16.840.1.113730.3.8.15.1";

struct Options {
  double seconds = 3.0;
  int rounds = 5;
  int handles = 1'000'000;    // live handles for the handle-table rows
  int connections = 1000;     // concurrent connections for the connection row
  std::string chart;          // PNG of the ratios (gnuplot), if set
  std::string json;           // every row as JSON, if set
  double profile_noop = 0;    // > 0: only no-op calls for this many seconds (to profile gssgated)
  double profile_accept = 0;  // > 0: only wire acceptor handshakes for this many seconds
  double profile_module = 0;  // > 0: only module acceptor handshakes for this many seconds
  std::string replay_cache = "gssgated";  // [daemon] replay_cache of the daemon under test
};

[[noreturn]] void die(const std::string& what) {
  std::cerr << "gssgate-bench: " << what << "\n";
  std::exit(1);
}
void must(const gss::GssStatus& s, const char* what) {
  if (!s.ok()) die(absl::StrCat(what, ": ", s.message()));
}

// The median of `values` (the upper one of an even count); 0 for none.
double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values.empty() ? 0 : values[values.size() / 2];
}

// Runs `op` (one operation) for one round of `length`: its rate per second.
double one_round(std::chrono::duration<double> length, const std::function<void()>& op) {
  uint64_t n = 0;
  const auto start = Clock::now();
  auto now = start;
  do {
    op();
    ++n;
    now = Clock::now();
  } while (now - start < length);
  return n / std::chrono::duration<double>(now - start).count();
}

// Runs `op` repeatedly; the median over rounds of operations per second.
double rate(const Options& o, const std::function<void()>& op) {
  const auto warm_until = Clock::now() + std::chrono::milliseconds(200);
  while (Clock::now() < warm_until) op();
  const auto round = std::chrono::duration<double>(o.seconds / o.rounds);
  std::vector<double> rates;
  for (int r = 0; r < o.rounds; ++r) {
    rates.push_back(one_round(round, op));
    std::cerr << "." << std::flush;
  }
  return median(rates);
}

// Rates of `op` and of a baseline `base`, measured in alternating rounds (base, op, base, op, ...)
// so that a slow spell of this shared machine lowers both sides of a ratio alike: the median rate
// of each and the median of the per-round ratios op/base. Rows that compare with the in-process
// baseline use it; one baseline measured minutes apart from a row made single runs swing by a
// third either way (docs/performance.md, "Ninth run").
struct Paired {
  double base = 0;
  double rate = 0;
  double ratio = 0;
};
Paired paired_rate(const Options& o, const std::function<void()>& base,
                   const std::function<void()>& op) {
  const auto warm_until = Clock::now() + std::chrono::milliseconds(200);
  while (Clock::now() < warm_until) {
    base();
    op();
  }
  const auto round = std::chrono::duration<double>(o.seconds / o.rounds);
  std::vector<double> bases, rates, ratios;
  for (int r = 0; r < o.rounds; ++r) {
    bases.push_back(one_round(round, base));
    rates.push_back(one_round(round, op));
    ratios.push_back(rates.back() / bases.back());
    std::cerr << "." << std::flush;
  }
  return Paired{median(bases), median(rates), median(ratios)};
}

// Runs op(i) on `threads` threads at once (i = 0..threads-1, each its own state); the median over
// rounds of the operations per second of all threads together.
// `during`, if given, is called every 20 ms from another thread while the workers run (the bench
// samples the daemon's RSS under load with it).
double rate_parallel(const Options& o, int threads, const std::function<void(int)>& op,
                     const std::function<void()>& during = nullptr) {
  if (threads == 1 && !during) return rate(o, [&] { op(0); });
  auto run_for = [&](std::chrono::duration<double> length) {
    std::atomic<uint64_t> total{0};
    std::vector<std::thread> workers;
    const auto start = Clock::now();
    if (during) {
      workers.emplace_back([&] {
        while (Clock::now() - start < length) {
          during();
          std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
      });
    }
    for (int i = 0; i < threads; ++i) {
      workers.emplace_back([&, i] {
        uint64_t n = 0;
        while (Clock::now() - start < length) {
          op(i);
          ++n;
        }
        total += n;
      });
    }
    for (std::thread& t : workers) t.join();
    return total / std::chrono::duration<double>(Clock::now() - start).count();
  };
  run_for(std::chrono::milliseconds(200));
  std::vector<double> rates;
  for (int r = 0; r < o.rounds; ++r) {
    rates.push_back(run_for(std::chrono::duration<double>(o.seconds / o.rounds)));
    std::cerr << "." << std::flush;
  }
  std::sort(rates.begin(), rates.end());
  return rates[rates.size() / 2];
}

class EchoService final : public gssgate::bench::Echo::Service {
  grpc::Status Echo(grpc::ServerContext*, const gssgate::bench::Blob* in,
                    gssgate::bench::Blob* out) override {
    out->set_data(in->data());
    return grpc::Status::OK;
  }
};

// In-process MIT: the baseline, with the same keytabs the daemon uses.
struct InProcess {
  gss::AcquiredCred initiator;
  gss::AcquiredCred acceptor;
  gss::NameHandle target;

  InProcess(const std::string& alice_principal, const std::string& client_keytab,
            const std::string& service_keytab) {
    gss::NameHandle alice;
    must(gss::import_name(alice_principal, gss::oids::nt_krb5_principal_name(), &alice),
         "import alice");
    gss::AcquireCredRequest init;
    init.desired_name = &alice;
    init.usage = gss::CredUsage::kInitiate;
    init.store.add("client_keytab", client_keytab).add("ccache", "MEMORY:gssgate-bench");
    must(gss::acquire_cred(init, &initiator), "in-process initiator credentials");
    gss::AcquireCredRequest accept;
    accept.usage = gss::CredUsage::kAccept;
    accept.store.add("keytab", service_keytab);
    must(gss::acquire_cred(accept, &acceptor), "in-process acceptor credentials");
    must(gss::import_name("HTTP@localhost", gss::oids::nt_hostbased_service(), &target),
         "import target");
  }

  // A mutual-auth handshake: init, accept, init.
  void handshake(gss::ContextHandle* client, gss::ContextHandle* server) {
    gss::InitSecContextRequest init;
    init.cred = &initiator.cred;
    init.target = &target;
    gss::InitSecContextResult token;
    must(gss::init_sec_context(client, init, &token), "init");
    gss::AcceptSecContextRequest accept;
    accept.cred = &acceptor.cred;
    accept.input_token = token.output_token;
    gss::AcceptSecContextResult reply;
    must(gss::accept_sec_context(server, accept, &reply), "accept");
    init.input_token = reply.output_token;
    must(gss::init_sec_context(client, init, &token), "init (mutual)");
  }
};

struct Row {
  std::string name;
  double value;
  std::string unit;
  std::string ratio_text;
  std::string target;
  std::string verdict;
  double ratio = 0;         // 0: no ratio (a baseline, or an absolute figure)
  double target_ratio = 0;  // 0: no target
  // A paired row (paired_rate): the median of its own baseline's rounds, measured alternately with
  // the row's; `ratio` is the median of the per-round ratios, not value / that baseline. 0:
  // unpaired.
  double paired_baseline = 0;
};

// Every row as {name, value, unit, ratio, target, met, paired_baseline}: ratio null without a
// baseline, met null without a target, paired_baseline null for a row not measured in paired
// rounds.
void write_json(const std::vector<Row>& rows, const std::string& path) {
  std::ofstream out(path);
  out << "[\n";
  for (size_t i = 0; i < rows.size(); ++i) {
    const Row& r = rows[i];
    out << absl::StrFormat(
        "  {\"name\": %s, \"value\": %.6g, \"unit\": %s, \"ratio\": %s, \"target\": %s, "
        "\"met\": %s, \"paired_baseline\": %s}%s\n",
        gssgate::util::json_quote(r.name), r.value, gssgate::util::json_quote(r.unit),
        r.ratio > 0 ? absl::StrFormat("%.4f", r.ratio) : "null",
        gssgate::util::json_quote(r.target),
        r.verdict == "met"      ? "true"
        : r.verdict == "MISSED" ? "false"
                                : "null",
        r.paired_baseline > 0 ? absl::StrFormat("%.6g", r.paired_baseline) : "null",
        i + 1 < rows.size() ? "," : "");
  }
  out << "]\n";
  if (!out) {
    std::cerr << "could not write " << path << "\n";
  } else {
    std::cerr << "json: " << path << "\n";
  }
}

// A PNG of every row with a ratio (bars) and its target (points), through gnuplot.
void write_chart(const std::vector<Row>& rows, const std::string& png, const std::string& title) {
  auto gnuplot = gt::find_tool("gnuplot", "gnuplot-nox");
  if (!gnuplot.ok()) {
    std::cerr << "no chart: " << gnuplot.status().message() << "\n";
    return;
  }
  const std::string data = png + ".dat", script = png + ".gp";
  std::ofstream d(data);
  int n = 0;
  for (const Row& r : rows) {
    if (r.ratio <= 0) continue;
    d << n++ << " \"" << r.name << "\" " << r.ratio << " "
      << (r.target_ratio > 0 ? absl::StrCat(r.target_ratio) : "NaN") << "\n";
  }
  d.close();
  // Horizontal bars (one row each, top to bottom in table order), so the long names stay readable.
  std::ofstream g(script);
  g << "set terminal pngcairo size 1400," << 160 + 26 * n << " font 'sans,10' noenhanced\n"
    << "set output '" << png << "'\n"
    << "set title '" << title << "'\n"
    << "set xlabel 'ratio (higher is better)'\nset xrange [0:*]\nset grid xtics\n"
    << "set yrange [" << n
    << "-0.5:-0.5]\nset lmargin 62\nset key outside bottom center horizontal\n"
    << "set style fill solid 0.6 border -1\n"
    << "plot '" << data << "' using ($3/2):1:($3/2):(0.35):ytic(2) with boxxyerror"
    << " lc rgb '#4a7ab0' title 'ratio in this run',"
    << " '' using 4:1 with points pt 9 ps 2 lc rgb '#c03030' title 'target',"
    << " '' using (1):1 with lines dt 2 lc rgb '#606060' title 'parity'\n";
  g.close();
  auto r = gt::run({*gnuplot, script}, {});
  if (!r.ok() || r->exit_code != 0) {
    std::cerr << "gnuplot failed: " << (r.ok() ? r->output : std::string(r.status().message()))
              << "\n";
    return;
  }
  std::cerr << "chart: " << png << "\n";
}

std::string machine() {
  utsname u{};
  uname(&u);
  std::ifstream cpuinfo("/proc/cpuinfo");
  std::string line, model = "unknown CPU";
  while (std::getline(cpuinfo, line)) {
    if (line.rfind("model name", 0) == 0) {
      model = line.substr(line.find(':') + 2);
      break;
    }
  }
  return absl::StrCat(u.sysname, " ", u.release, ", ", std::thread::hardware_concurrency(),
                      " CPUs (", model, ")");
}

// The q-quantile (0..1) of `v` (sorted in place).
double quantile(std::vector<double>& v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(q * static_cast<double>(v.size())))];
}

double micros_since(Clock::time_point start) {
  return std::chrono::duration<double, std::micro>(Clock::now() - start).count();
}

// A thousand connections need more descriptors than the usual soft limit of 1024.
void raise_open_files_limit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    setrlimit(RLIMIT_NOFILE, &limit);
  }
}

// Runs this bench again as `gssgate-bench --child args...`, its environment plus `env`. Its
// stdout is "key value" lines, returned as a map; its stderr (progress) passes through.
std::map<std::string, double> run_child(const Options& o, const std::vector<std::string>& args,
                                        const gt::Env& env) {
  // Everything the child needs is built before fork(): this process has gRPC threads.
  std::vector<std::string> argv = {"gssgate-bench",         "--seconds",
                                   absl::StrCat(o.seconds), "--rounds",
                                   absl::StrCat(o.rounds),  "--child"};
  argv.insert(argv.end(), args.begin(), args.end());
  std::map<std::string, std::string> merged;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string kv = *e;
    size_t eq = kv.find('=');
    if (eq != std::string::npos) merged[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  for (const auto& [k, v] : env) merged[k] = v;
  std::vector<std::string> envs;
  for (const auto& [k, v] : merged) envs.push_back(k + "=" + v);
  std::vector<char*> cargv, cenv;
  for (std::string& a : argv) cargv.push_back(a.data());
  cargv.push_back(nullptr);
  for (std::string& e : envs) cenv.push_back(e.data());
  cenv.push_back(nullptr);
  int out[2];
  if (pipe2(out, O_CLOEXEC) != 0) die("pipe2 failed");
  pid_t pid = fork();
  if (pid < 0) die("fork failed");
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);  // a child holding a million contexts dies with the bench
    dup2(out[1], STDOUT_FILENO);
    execve("/proc/self/exe", cargv.data(), cenv.data());
    _exit(127);
  }
  close(out[1]);
  std::string text;
  char buf[4096];
  for (ssize_t n; (n = read(out[0], buf, sizeof(buf))) > 0;) text.append(buf, n);
  close(out[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    die(absl::StrCat("child \"", args.front(), "\" failed (status ", status, ")"));
  }
  std::map<std::string, double> values;
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
    std::vector<std::string> kv = absl::StrSplit(line, ' ');
    if (kv.size() == 2) values[kv[0]] = std::atof(kv[1].c_str());
  }
  return values;
}

// Progress for long loops: a line every tenth of `total`.
void progress(const char* what, int done, int total) {
  if (total >= 10 && done % (total / 10) == 0) {
    std::cerr << "  " << what << ": " << done << " / " << total << "\n";
  }
}

// ---- child processes ------------------------------------------------------------------------

// `n` contexts imported from one exported token, held in a plain vector: MIT's own memory per
// context. Prints the RSS delta.
int child_mit_contexts(int n, const std::string& token_file) {
  const std::string token = gt::read_file(token_file);
  std::vector<gss::ContextHandle> held(n);  // the vector's pages are touched before the baseline
  const uint64_t before = gt::rss_kib(getpid());
  for (int i = 0; i < n; ++i) {
    must(gss::import_context(token, &held[i]), "import_context");
    progress("MIT contexts", i + 1, n);
  }
  std::cout << "kib " << gt::rss_kib(getpid()) - before << "\n";
  std::cout.flush();
  _exit(0);  // no n deletes
}

// The same contexts, each in a handle-table entry as gssgated keeps them; then the latency of
// HandleTable::find on random ids of the full table.
int child_table_contexts(int n, const std::string& token_file) {
  using gssgate::daemon::Entry;
  using gssgate::daemon::HandleKind;
  // As gssgated does in a release build (daemon/main.cc): abseil's deadlock detector would
  // otherwise track each entry's mutex in one global graph, and dominate at a million entries.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  const std::string token = gt::read_file(token_file);
  std::vector<std::string> ids(n, std::string(gssgate::daemon::kHandleBytes, '\0'));
  gssgate::daemon::HandleTable table;
  const gssgate::daemon::Owner owner{getuid(), 1};
  const uint64_t before = gt::rss_kib(getpid());
  for (int i = 0; i < n; ++i) {
    auto entry = std::make_shared<Entry>(owner, HandleKind::kContext);
    {
      absl::MutexLock lock(&entry->mu);
      must(gss::import_context(token, &entry->context), "import_context");
    }
    auto id = table.insert(std::move(entry), static_cast<uint32_t>(n) + 1);
    if (!id.ok()) die(std::string(id.status().message()));
    std::copy(id->begin(), id->end(), ids[i].begin());
    progress("handle-table contexts", i + 1, n);
  }
  const uint64_t kib = gt::rss_kib(getpid()) - before;
  std::mt19937_64 rng(42);
  std::vector<double> ns;
  constexpr int kLookups = 200'000;
  ns.reserve(kLookups);
  for (int i = 0; i < kLookups; ++i) {
    const std::string& id = ids[rng() % n];
    const auto start = Clock::now();
    auto found = table.find(owner, id, HandleKind::kContext);
    ns.push_back(std::chrono::duration<double, std::nano>(Clock::now() - start).count());
    if (!found.ok()) die("lookup failed");
  }
  std::cout << "kib " << kib << "\np50_ns " << quantile(ns, 0.5) << "\np99_ns "
            << quantile(ns, 0.99) << "\n";
  std::cout.flush();
  _exit(0);
}

// `n` complete initiator contexts, each from an in-process handshake, held bare: MIT's own memory
// per context of the kind child_daemon_contexts makes.
int child_mit_initiator_contexts(int n, const std::string& alice, const std::string& client_keytab,
                                 const std::string& service_keytab) {
  InProcess mit(alice, client_keytab, service_keytab);
  std::vector<gss::ContextHandle> held(n);
  const uint64_t before = gt::rss_kib(getpid());
  for (int i = 0; i < n; ++i) {
    gss::ContextHandle server;
    mit.handshake(&held[i], &server);
    progress("MIT initiator contexts", i + 1, n);
  }
  std::cout << "kib " << gt::rss_kib(getpid()) - before << "\n";
  std::cout.flush();
  _exit(0);
}

// `n` live context handles in gssgated: initiator contexts completed through the real daemon
// (InitSecContext twice, over 4 connections) against an acceptor in this process. Reports the
// daemon's RSS delta, and the latency of WrapSizeLimit on one context before and on random
// contexts of the full table after.
int child_daemon_contexts(int n, const std::string& socket, pid_t daemon, const std::string& alice,
                          const std::string& client_keytab, const std::string& service_keytab) {
  InProcess mit(alice, client_keytab, service_keytab);
  constexpr int kConns = 4;
  std::vector<std::shared_ptr<gssgate::Connection>> conns;
  std::vector<gssgate::Name> targets;
  for (int i = 0; i < kConns; ++i) {
    conns.push_back(
        std::make_shared<gssgate::Connection>(gssgate::ConnectionOptions{.socket = socket}));
    targets.emplace_back("HTTP@localhost", gssgate::NameType::hostbased_service(), conns[i]);
  }
  auto establish = [&](int c) {
    gssgate::SecurityContext client({.name = targets[c], .connection = conns[c]});
    std::string token = *client.step();
    gss::ContextHandle server;
    gss::AcceptSecContextRequest accept;
    accept.cred = &mit.acceptor.cred;
    accept.input_token = token;
    gss::AcceptSecContextResult reply;
    must(gss::accept_sec_context(&server, accept, &reply), "accept");
    client.step(reply.output_token);
    return client;
  };
  auto latencies = [&](const std::vector<gssgate::SecurityContext*>& pool) {
    std::mt19937_64 rng(7);
    std::vector<double> us;
    for (int i = 0; i < 3000; ++i) {
      gssgate::SecurityContext* ctx = pool[rng() % pool.size()];
      const auto start = Clock::now();
      // A call that looks the handle up and asks MIT almost nothing. (Not lifetime(): a complete
      // context's properties no longer call the daemon, issue 15.)
      ctx->get_wrap_size_limit(1024, true);
      us.push_back(micros_since(start));
    }
    return us;
  };
  std::vector<std::vector<gssgate::SecurityContext>> held(kConns);
  held[0].push_back(establish(0));
  latencies({&held[0][0]});  // warm-up: the first calls on a new connection cost more
  std::vector<double> one = latencies({&held[0][0]});
  const uint64_t before = gt::rss_kib(daemon);
  std::atomic<int> done{1};
  std::vector<std::thread> workers;
  for (int c = 0; c < kConns; ++c) {
    workers.emplace_back([&, c] {
      const int share = (n - 1) / kConns + (c < (n - 1) % kConns ? 1 : 0);
      held[c].reserve(held[c].size() + share);
      for (int i = 0; i < share; ++i) {
        held[c].push_back(establish(c));
        progress("gssgated context handles", ++done, n);
      }
    });
  }
  for (std::thread& t : workers) t.join();
  const uint64_t after = gt::rss_kib(daemon);
  std::vector<gssgate::SecurityContext*> pool;
  for (auto& v : held) {
    for (auto& ctx : v) pool.push_back(&ctx);
  }
  std::vector<double> full = latencies(pool);
  std::cout << "kib " << after - before << "\none_p50_us " << quantile(one, 0.5) << "\none_p99_us "
            << quantile(one, 0.99) << "\nfull_p50_us " << quantile(full, 0.5) << "\nfull_p99_us "
            << quantile(full, 0.99) << "\n";
  std::cout.flush();
  _exit(0);  // the daemon releases the handles when the connections close
}

// Handshakes in which one side goes through a GSSAPI interposer module (gssproxy's or gssgate's,
// chosen by the environment the parent sets before the first GSS call, which is when MIT's
// mechglue loads it) and the other side stays in this process. The local side names the real krb5
// mechanism as MIT's mechglue knows it behind that module: the module's OID followed by krb5's,
// so it never reaches the module. The interposed side has no keytab or ccache of its own
// (KRB5_KTNAME, KRB5_CLIENT_KTNAME and KRB5CCNAME name nothing usable), so every handshake that
// succeeds went through the module's daemon.
//   args: module OID (dotted), "acceptor" or "initiator" (the interposed side), client keytab,
//         service keytab, alice's principal, and "ccache" if an interposed acceptor's store needs
//         a MEMORY ccache element (gssproxy's: it would re-initialize a FILE default one; with a
//         store, its initiator fails locally with "No credentials cache found").
int child_interposed_handshakes(const Options& o, const std::vector<std::string>& a) {
  signal(SIGPIPE, SIG_IGN);  // the module writes to its daemon's socket
  auto module = gss::Oid::from_dotted(a[1]);
  if (!module.ok()) die(std::string(module.status().message()));
  auto concatenated = gss::Oid::from_der(module->der() + gss::oids::krb5().der());
  if (!concatenated.ok()) die(std::string(concatenated.status().message()));
  const gss::Oid local = *concatenated;
  const bool acceptor_interposed = a[2] == "acceptor";
  const std::string &client_keytab = a[3], &service_keytab = a[4];
  const bool ccache_element = a.size() > 6 && a[6] == "ccache";
  gss::NameHandle alice_name, target;
  must(gss::import_name(a[5], gss::oids::nt_krb5_principal_name(), &alice_name), "import alice");
  must(gss::import_name("HTTP@localhost", gss::oids::nt_hostbased_service(), &target),
       "import target");
  gss::AcquireCredRequest init;
  init.desired_name = &alice_name;
  init.usage = gss::CredUsage::kInitiate;
  gss::AcquireCredRequest accept;
  accept.usage = gss::CredUsage::kAccept;
  if (acceptor_interposed) {
    init.mechs = {local};
    init.store.add("client_keytab", client_keytab).add("ccache", "MEMORY:gssgate-bench-local");
    if (ccache_element) accept.store.add("ccache", "MEMORY:gssgate-bench-interposed");
  } else {
    accept.mechs = {local};
    accept.store.add("keytab", service_keytab);
  }
  gss::AcquiredCred initiator, acceptor;
  must(gss::acquire_cred(init, &initiator), acceptor_interposed
                                                ? "initiator credentials (local)"
                                                : "initiator credentials through the module");
  must(gss::acquire_cred(accept, &acceptor), acceptor_interposed
                                                 ? "acceptor credentials through the module"
                                                 : "acceptor credentials (local)");
  const double hs = rate(o, [&] {
    gss::ContextHandle client, server;
    gss::InitSecContextRequest i;
    i.cred = &initiator.cred;
    i.target = &target;
    if (acceptor_interposed) i.mech = local;
    gss::InitSecContextResult token;
    must(gss::init_sec_context(&client, i, &token), "init");
    gss::AcceptSecContextRequest ac;
    ac.cred = &acceptor.cred;
    ac.input_token = token.output_token;
    gss::AcceptSecContextResult reply;
    must(gss::accept_sec_context(&server, ac, &reply), "accept");
    i.input_token = reply.output_token;
    must(gss::init_sec_context(&client, i, &token), "init (mutual)");
  });
  std::cout << "rate " << hs << "\n";
  return 0;
}

// A no-op call to gssgated: ContextTime on a live context (an initiator's first step) over a
// channel of the bench's own, so it only looks the handle up and asks MIT the time left.
struct NoOp {
  std::unique_ptr<gssgate::v1::Gssgate::Stub> stub;
  gssgate::v1::ContextTimeRequest request;
};
NoOp no_op_call(const std::string& socket) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  NoOp noop{gssgate::v1::Gssgate::NewStub(grpc::CreateCustomChannel(
                "unix:" + socket, grpc::InsecureChannelCredentials(), args)),
            {}};
  gssgate::v1::InitSecContextRequest init;
  init.mutable_target()->set_value("HTTP@localhost");
  init.mutable_target()->set_name_type(gssgate::NameType::hostbased_service().bytes());
  gssgate::v1::InitSecContextReply started;
  grpc::ClientContext ctx;
  if (!noop.stub->InitSecContext(&ctx, init, &started).ok() || started.context().empty()) {
    die("no context for the no-op call");
  }
  noop.request.set_context(started.context());
  return noop;
}

// The echo service served as gssgated serves its own: a separate process, the daemon's accept
// loop (daemon::Listener: SO_PEERCRED, pidfd, the close watch) handing each connection to a gRPC
// sync server through AddInsecureChannelFromFd, with gssgated's default thread quota. So the
// difference between this echo and a gssgated no-op call is the daemon's own per-call work.
// With `health`, gRPC's built-in health service is on too, as gssgated had it until issue 15 (a
// callback service: the server then runs a callback completion queue beside the sync one).
int child_echo_server(const std::string& socket, bool health) {
  namespace d = gssgate::daemon;
  // SIGTERM (from the bench, or as it dies) is taken by sigwait() below: blocked before any
  // thread exists, so every thread inherits the mask.
  sigset_t term;
  sigemptyset(&term);
  sigaddset(&term, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &term, nullptr);
  prctl(PR_SET_PDEATHSIG, SIGTERM);
  d::DaemonSettings settings;
  d::ListenerSettings echo_listener;
  echo_listener.name = "echo";
  echo_listener.path = socket;
  echo_listener.mode = 0600;
  auto listener = d::Listener::create(echo_listener, settings);
  if (!listener.ok()) die(std::string(listener.status().message()));
  EchoService echo;
  grpc::EnableDefaultHealthCheckService(health);
  grpc::ServerBuilder builder;
  builder.RegisterService(&echo);
  grpc::ResourceQuota quota("echo");
  quota.SetMaxThreads(settings.max_threads);
  builder.SetResourceQuota(quota);
  builder.AddChannelArgument(GRPC_ARG_MAX_CONCURRENT_STREAMS, settings.max_streams_per_connection);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (!server) die("echo server failed to start");
  (*listener)->start([&server](int fd) { grpc::AddInsecureChannelFromFd(server.get(), fd); },
                     [](const d::Peer&, bool, const std::string&) {});
  int signal = 0;
  sigwait(&term, &signal);
  (*listener)->stop();
  server->Shutdown();
  return 0;
}

// The socket floor for the wire transport: a separate process that echoes every datagram on a
// SOCK_SEQPACKET socket, one thread per connection, blocking reads (no epoll: the floor).
int child_seqpacket_echo(const std::string& socket) {
  prctl(PR_SET_PDEATHSIG, SIGTERM);
  const int listener = ::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", socket.c_str());
  unlink(socket.c_str());
  if (listener < 0 || bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      listen(listener, 16) != 0) {
    die("seqpacket echo: cannot listen on " + socket);
  }
  for (;;) {
    const int fd = accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    std::thread([fd] {
      std::vector<char> buffer(256 * 1024);
      for (;;) {
        const ssize_t n = recv(fd, buffer.data(), buffer.size(), 0);
        if (n <= 0 || send(fd, buffer.data(), n, MSG_NOSIGNAL) != n) break;
      }
      close(fd);
    }).detach();
  }
}

int child_main(const Options& o, const std::vector<std::string>& a) {
  if (a.size() == 3 && a[0] == "echo-server") return child_echo_server(a[1], a[2] == "health");
  if (a.size() == 2 && a[0] == "seqpacket-echo") return child_seqpacket_echo(a[1]);
  if (a.size() == 3 && a[0] == "mit-contexts") return child_mit_contexts(std::stoi(a[1]), a[2]);
  if (a.size() == 3 && a[0] == "table-contexts") return child_table_contexts(std::stoi(a[1]), a[2]);
  if (a.size() == 5 && a[0] == "mit-initiator-contexts") {
    return child_mit_initiator_contexts(std::stoi(a[1]), a[2], a[3], a[4]);
  }
  if (a.size() == 7 && a[0] == "daemon-contexts") {
    return child_daemon_contexts(std::stoi(a[1]), a[2], std::stoi(a[3]), a[4], a[5], a[6]);
  }
  if ((a.size() == 6 || a.size() == 7) && a[0] == "interposed-handshakes") {
    return child_interposed_handshakes(o, a);
  }
  die("unknown --child arguments");
}

// ---- gssproxy ---------------------------------------------------------------------------------

// Handshake rates with one side behind a GSSAPI interposer module, the other in-process.
struct InterposedRates {
  double acceptor = 0;   // the Apache-style acceptor through the module
  double initiator = 0;  // the curl-style initiator through the module
};

// Runs the two interposed-handshake children with `env` (which turns the module on), local sides
// named by `module_oid`; the initiator's child gets `initiator_env` on top of `env`.
InterposedRates interposed_rates(const gt::MiniKdc& kdc, const Options& o, std::string module_oid,
                                 const std::string& service_keytab,
                                 const std::string& client_keytab, bool ccache_element, gt::Env env,
                                 bool with_initiator = true, const gt::Env& initiator_env = {}) {
  env["KRB5_KTNAME"] = "FILE:" + kdc.path("no-such.keytab");
  env["KRB5_CLIENT_KTNAME"] = "FILE:" + kdc.path("no-such-client.keytab");
  env["KRB5CCNAME"] = "MEMORY:nothing-here";
  InterposedRates rates;
  for (const std::string side : {"acceptor", "initiator"}) {
    if (!with_initiator && side == "initiator") continue;
    std::vector<std::string> args = {"interposed-handshakes", module_oid,     side,
                                     client_keytab,           service_keytab, kdc.qualify("alice")};
    if (ccache_element) args.push_back("ccache");
    gt::Env child_env = env;
    if (side == "initiator") {
      for (const auto& [k, v] : initiator_env) child_env[k] = v;
    }
    auto values = run_child(o, args, child_env);
    (side == "acceptor" ? rates.acceptor : rates.initiator) = values["rate"];
  }
  return rates;
}

// gssgate's own module (client/interposer) in front of the running gssgated's wire socket.
// What turns gssgate's module on in a child (writes the mech config file that names it).
gt::Env gssgate_module_env(const gt::MiniKdc& kdc, const std::string& wire_socket) {
  const std::string mech_config = kdc.path("gssgate-mech");
  std::ofstream(mech_config) << "gssgate " << kGssgateModuleOid << " "
                             << GSSGATE_INTERPOSER_FOR_BENCH << " <interposer>\n";
  return {{"GSSGATE_INTERPOSE", "1"},
          {"GSS_MECH_CONFIG", mech_config},
          {"GSSGATE_SOCKET", "wire:" + wire_socket}};
}

// Debian's gssproxy with a private config (its services hold the service keytab and alice's
// client keytab), private sockets, an empty config directory (-C: it would read /etc/gssproxy
// otherwise), in a private mount namespace with tmpfs on /run (its pid file) and
// /var/lib/gssproxy (its default socket directory), dying with this process (setpriv
// --pdeathsig) and stopped when this object goes. `env` turns its module on for a child
// (GSSPROXY_BEHAVIOR=REMOTE_ONLY: the interposed side never falls back to local credentials);
// `initiator_env` points the initiator's child at the initiator's service.
struct Gssproxy {
  pid_t pid = -1;
  gt::Env env, initiator_env;
  Gssproxy() = default;
  Gssproxy(const Gssproxy&) = delete;
  Gssproxy& operator=(const Gssproxy&) = delete;
  ~Gssproxy() {
    if (pid > 0) gt::terminate(pid);
  }
};

// Starts it; nullptr and `why` when it cannot run here.
std::unique_ptr<Gssproxy> start_gssproxy(const gt::MiniKdc& kdc, const std::string& service_keytab,
                                         const std::string& client_keytab, std::string* why) {
  auto gssproxy = gt::find_tool("gssproxy", "gssproxy");
  auto setpriv = gt::find_tool("setpriv", "util-linux");
  auto unshare = gt::find_tool("unshare", "util-linux");
  if (!gssproxy.ok() || !setpriv.ok() || !unshare.ok()) {
    *why = "gssproxy not installed (scripts/bench.sh installs it)";
    return nullptr;
  }
  if (geteuid() != 0) {
    *why = "needs root (gssproxy's private mount namespace)";
    return nullptr;
  }
  const std::string conf = kdc.path("gssproxy.conf"), dir = kdc.path("gssproxy.d"),
                    sock = kdc.path("gssproxy.sock"),
                    initiator_sock = kdc.path("gssproxy-initiator.sock");
  mkdir(dir.c_str(), 0700);
  // Two services, one per socket: a service that names a keytab makes its client_keytab that
  // same keytab for every caller that does not ask for a uid by name (gssproxy's
  // gp_get_cred_environment), so alice's initiator credentials need a service without one.
  std::ofstream(conf) << "[gssproxy]\n  worker threads = 2\n\n"
                      << "[service/bench]\n  mechs = krb5\n"
                      << "  cred_store = keytab:" << service_keytab << "\n"
                      << "  cred_store = ccache:MEMORY:gssproxy-bench\n"
                      << "  cred_usage = accept\n  euid = " << geteuid() << "\n"
                      << "  socket = " << sock << "\n\n"
                      << "[service/bench-initiator]\n  mechs = krb5\n"
                      << "  cred_store = client_keytab:" << client_keytab << "\n"
                      << "  cred_store = ccache:MEMORY:gssproxy-bench-initiator\n"
                      << "  cred_usage = initiate\n  euid = " << geteuid() << "\n"
                      << "  socket = " << initiator_sock << "\n";
  const std::string script = absl::StrCat(
      "mount -t tmpfs tmpfs /run && { [ ! -d /var/lib/gssproxy ] || mount -t tmpfs tmpfs "
      "/var/lib/gssproxy; } && exec ",
      *gssproxy, " -i -c ", conf, " -C ", dir, " -s ", sock);
  auto pid = gt::spawn({*setpriv, "--pdeathsig", "TERM", *unshare, "-m", "--propagation", "private",
                        "/bin/sh", "-c", script},
                       kdc.env(), kdc.path("gssproxy.log"));
  if (!pid.ok()) die(std::string(pid.status().message()));
  auto out = std::make_unique<Gssproxy>();
  out->pid = *pid;
  bool up = false;
  for (int i = 0; i < 100 && !up && gt::running(*pid); ++i) {
    up = gt::unix_socket_accepts(sock) && gt::unix_socket_accepts(initiator_sock);
    if (!up) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  if (!up) {
    *why =
        "gssproxy did not start (see gssproxy.log: e.g. no CAP_SYS_ADMIN for its mount namespace)";
    std::cerr << "gssproxy did not start; its log:\n" << gt::read_file(kdc.path("gssproxy.log"));
    return nullptr;
  }
  out->env = {
      {"GSS_USE_PROXY", "yes"}, {"GSSPROXY_BEHAVIOR", "REMOTE_ONLY"}, {"GSSPROXY_SOCKET", sock}};
  out->initiator_env = {{"GSSPROXY_SOCKET", initiator_sock}};
  return out;
}

// The module rows: per round, a child per side through gssgate's module and a child per side
// through gssproxy's (each child measures one round; which module goes first alternates), then a
// round of each of `in_process` (acceptors in this process), so that every ratio against gssproxy's
// module comes from rounds measured side by side. `gssproxy` may be null (the rows without it).
struct ModuleRows {
  InterposedRates gssgate, gssproxy;  // median rates
  InterposedRates ratio;              // median per-round ratio gssgate / gssproxy
  std::vector<Paired> in_process;     // each of `in_process` against gssproxy's acceptor
};
ModuleRows module_rows(const gt::MiniKdc& kdc, const Options& o, const std::string& wire_socket,
                       const std::string& service_keytab, const std::string& client_keytab,
                       const Gssproxy* gssproxy,
                       const std::vector<std::function<void()>>& in_process) {
  Options one = o;
  one.seconds = o.seconds / o.rounds;
  one.rounds = 1;
  const auto round = std::chrono::duration<double>(one.seconds);
  const gt::Env gssgate_env = gssgate_module_env(kdc, wire_socket);
  std::vector<double> gg_acceptor, gg_initiator, gp_acceptor, gp_initiator, r_acceptor, r_initiator;
  std::vector<std::vector<double>> own(in_process.size()), own_ratio(in_process.size());
  for (int r = 0; r < o.rounds; ++r) {
    InterposedRates a, b;
    auto gssgate_round = [&] {
      a = interposed_rates(kdc, one, kGssgateModuleOid, service_keytab, client_keytab, false,
                           gssgate_env);
    };
    auto gssproxy_round = [&] {
      b = interposed_rates(kdc, one, kGssproxyModuleOid, service_keytab, client_keytab, true,
                           gssproxy->env, /*with_initiator=*/true, gssproxy->initiator_env);
    };
    if (gssproxy == nullptr) {
      gssgate_round();
    } else if (r % 2 == 0) {
      gssgate_round();
      gssproxy_round();
    } else {
      gssproxy_round();
      gssgate_round();
    }
    gg_acceptor.push_back(a.acceptor);
    gg_initiator.push_back(a.initiator);
    if (gssproxy == nullptr) continue;
    gp_acceptor.push_back(b.acceptor);
    gp_initiator.push_back(b.initiator);
    r_acceptor.push_back(b.acceptor > 0 ? a.acceptor / b.acceptor : 0);
    r_initiator.push_back(b.initiator > 0 ? a.initiator / b.initiator : 0);
    for (size_t i = 0; i < in_process.size(); ++i) {
      own[i].push_back(one_round(round, in_process[i]));
      own_ratio[i].push_back(b.acceptor > 0 ? own[i].back() / b.acceptor : 0);
    }
    std::cerr << "." << std::flush;
  }
  ModuleRows out{{median(gg_acceptor), median(gg_initiator)},
                 {median(gp_acceptor), median(gp_initiator)},
                 {median(r_acceptor), median(r_initiator)},
                 {}};
  for (size_t i = 0; i < in_process.size(); ++i) {
    out.in_process.push_back(Paired{out.gssproxy.acceptor, median(own[i]), median(own_ratio[i])});
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  std::vector<std::string> child;
  const char* usage =
      "usage: gssgate-bench [--seconds S] [--rounds N] [--handles N] [--connections N] "
      "[--chart FILE.png] [--json FILE] [--profile-noop SECONDS] [--profile-accept SECONDS] "
      "[--profile-module SECONDS] [--replay-cache gssgated|mit]";
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--child") {
      child.assign(argv + i + 1, argv + argc);
      break;
    }
    if (i + 1 >= argc) die(usage);
    std::string v = argv[++i];
    if (a == "--seconds") {
      o.seconds = std::atof(v.c_str());
    } else if (a == "--rounds") {
      o.rounds = std::max(1, std::atoi(v.c_str()));
    } else if (a == "--handles") {
      o.handles = std::max(10, std::atoi(v.c_str()));
    } else if (a == "--connections") {
      o.connections = std::max(1, std::atoi(v.c_str()));
    } else if (a == "--chart") {
      o.chart = v;
    } else if (a == "--json") {
      o.json = v;
    } else if (a == "--profile-noop") {
      o.profile_noop = std::atof(v.c_str());
    } else if (a == "--profile-accept") {
      o.profile_accept = std::atof(v.c_str());
    } else if (a == "--profile-module") {
      o.profile_module = std::atof(v.c_str());
    } else if (a == "--replay-cache") {
      o.replay_cache = v;
    } else {
      die(usage);
    }
  }
  if (!child.empty()) return child_main(o, child);
  raise_open_files_limit();

  std::cerr << "==> realm, gssgated and the echo server\n";
  auto kdc = gt::MiniKdc::start();
  if (!kdc.ok()) die(std::string(kdc.status().message()));
  (*kdc)->export_env_to_process();
  const std::string service_keytab = (*kdc)->path("http.keytab");
  const std::string client_keytab = (*kdc)->path("alice.keytab");
  if (!(*kdc)->add_principal_with_random_key("alice").ok() ||
      !(*kdc)->add_principal_with_random_key("HTTP/localhost").ok() ||
      !(*kdc)->export_keytab(service_keytab, {"HTTP/localhost"}).ok() ||
      !(*kdc)->export_keytab(client_keytab, {"alice"}).ok()) {
    die("realm set-up failed");
  }
  auto daemon = gt::GssgatedProcess::start(
      **kdc,
      absl::StrCat("[[rule]]\nname = \"bench\"\nuids = [", getuid(),
                   "]\nusages = [\"initiate\", \"accept\"]\nkeytab = \"", service_keytab,
                   "\"\nclient_keytab = \"", client_keytab,
                   "\"\nexport_context = true\nadmin = true\nmax_handles = ", o.handles + 100'000,
                   "\n"),
      gt::GssgatedOptions{
          .daemon_extra = absl::StrCat("max_connections = ", o.connections + 100,
                                       "\nmax_connections_per_uid = ", o.connections + 100,
                                       "\nreplay_cache = \"", o.replay_cache, "\"\n"),
          .extra_args = {"--log-level", "info"}});
  if (!daemon.ok()) die(std::string(daemon.status().message()));
  auto conn = std::make_shared<gssgate::Connection>(
      gssgate::ConnectionOptions{.socket = (*daemon)->socket()});
  if (o.profile_noop > 0) {
    NoOp noop = no_op_call((*daemon)->socket());
    std::cerr << "gssgated pid " << (*daemon)->pid() << ": no-op calls for " << o.profile_noop
              << " s" << std::endl;
    uint64_t calls = 0;
    const auto started = Clock::now();
    while (std::chrono::duration<double>(Clock::now() - started).count() < o.profile_noop) {
      gssgate::v1::ContextTimeReply reply;
      grpc::ClientContext ctx;
      if (!noop.stub->ContextTime(&ctx, noop.request, &reply).ok()) die("ContextTime failed");
      ++calls;
    }
    std::cout << absl::StrFormat("%.0f no-op calls/s\n", calls / o.profile_noop);
    return (*daemon)->stop().ok() ? 0 : 1;
  }

  EchoService echo_service;
  const std::string echo_socket = (*kdc)->path("echo.sock");
  grpc::ServerBuilder builder;
  builder.AddListeningPort("unix:" + echo_socket, grpc::InsecureServerCredentials());
  builder.RegisterService(&echo_service);
  builder.SetMaxReceiveMessageSize(1 << 20);
  std::unique_ptr<grpc::Server> echo_server = builder.BuildAndStart();
  if (!echo_server) die("echo server failed to start");
  auto echo = gssgate::bench::Echo::NewStub(
      grpc::CreateChannel("unix:" + echo_socket, grpc::InsecureChannelCredentials()));
  auto echo_once = [&](const std::string& payload) {
    gssgate::bench::Blob in, out;
    in.set_data(payload);
    grpc::ClientContext ctx;
    grpc::Status s = echo->Echo(&ctx, in, &out);
    if (!s.ok()) die("echo: " + s.error_message());
  };

  InProcess mit((*kdc)->qualify("alice"), client_keytab, service_keytab);
  gssgate::Name target("HTTP@localhost", gssgate::NameType::hostbased_service(), conn);
  std::vector<Row> rows;
  auto add = [&](std::string name, double value, std::string unit, double baseline,
                 std::string target_text, double target_ratio) {
    double ratio = baseline > 0 ? value / baseline : 0;
    rows.push_back(Row{std::move(name), value, std::move(unit),
                       baseline > 0 ? absl::StrFormat("%.2fx", ratio) : "-", std::move(target_text),
                       target_ratio <= 0 ? "" : (ratio >= target_ratio ? "met" : "MISSED"),
                       baseline > 0 ? ratio : 0, target_ratio});
    std::cerr << " " << rows.back().name << "\n";
  };
  // A row measured in rounds alternating with its baseline (paired_rate): its ratio is the median
  // of the per-round ratios.
  auto add_paired = [&](std::string name, const Paired& p, std::string unit,
                        std::string target_text, double target_ratio) {
    rows.push_back(Row{std::move(name), p.rate, std::move(unit), absl::StrFormat("%.2fx~", p.ratio),
                       std::move(target_text),
                       target_ratio <= 0 ? "" : (p.ratio >= target_ratio ? "met" : "MISSED"),
                       p.ratio, target_ratio, p.base});
    std::cerr << " " << rows.back().name << "\n";
  };

  std::cerr << "==> handshakes (mutual authentication)\n";
  auto mit_handshake = [&] {
    gss::ContextHandle client, server;
    mit.handshake(&client, &server);
  };
  const double hs_mit = rate(o, mit_handshake);
  add("handshake, in-process MIT", hs_mit, "/s", 0, "baseline", 0);
  // A handshake that in-process MIT initiates; `accept` turns its AP-REQ into the AP-REP.
  auto mit_initiated = [&](const std::function<std::string(const std::string&)>& accept) {
    gss::ContextHandle client;
    gss::InitSecContextRequest init;
    init.cred = &mit.initiator.cred;
    init.target = &mit.target;
    gss::InitSecContextResult token;
    must(gss::init_sec_context(&client, init, &token), "init");
    const std::string reply = accept(token.output_token);
    init.input_token = reply;
    must(gss::init_sec_context(&client, init, &token), "init (mutual)");
  };
  // One acceptor step with a fresh SecurityContext on `connection`: the acceptor side of a row.
  auto acceptor_on = [](std::shared_ptr<gssgate::Connection> connection) {
    return [connection](const std::string& token) {
      gssgate::SecurityContext server({.connection = connection});
      return *server.step(token);
    };
  };
  // A whole handshake with both sides SecurityContexts on `connection`, to `name`.
  auto both_sides_on = [](std::shared_ptr<gssgate::Connection> connection, gssgate::Name name) {
    return [connection, name] {
      gssgate::SecurityContext client({.name = name, .connection = connection});
      gssgate::SecurityContext server({.connection = connection});
      std::optional<std::string> reply = server.step(*client.step());
      client.step(*reply);
    };
  };
  auto accept_with_context = acceptor_on(conn);
  if (o.profile_module > 0) {
    Options once = o;
    once.seconds = o.profile_module;
    once.rounds = 1;
    std::cerr << "gssgated pid " << (*daemon)->pid() << ": module acceptor handshakes in a child "
              << "for about " << o.profile_module << " s" << std::endl;
    const InterposedRates module =
        interposed_rates(**kdc, once, kGssgateModuleOid, service_keytab, client_keytab, false,
                         gssgate_module_env(**kdc, (*daemon)->wire_socket()),
                         /*with_initiator=*/false);
    std::cout << absl::StrFormat("%.0f handshakes/s\n", module.acceptor);
    return (*daemon)->stop().ok() ? 0 : 1;
  }
  if (o.profile_accept > 0) {
    auto wire = std::make_shared<gssgate::Connection>(
        gssgate::ConnectionOptions{.socket = "wire:" + (*daemon)->wire_socket()});
    std::cerr << "gssgated pid " << (*daemon)->pid() << ": wire acceptor handshakes for "
              << o.profile_accept << " s" << std::endl;
    uint64_t handshakes = 0;
    const auto started = Clock::now();
    while (std::chrono::duration<double>(Clock::now() - started).count() < o.profile_accept) {
      mit_initiated(acceptor_on(wire));
      ++handshakes;
    }
    std::cout << absl::StrFormat("%.0f handshakes/s\n", handshakes / o.profile_accept);
    return (*daemon)->stop().ok() ? 0 : 1;
  }
  // Each handshake row's rounds alternate with rounds of the in-process baseline (paired_rate).
  add_paired("handshake, acceptor through gssgated",
             paired_rate(o, mit_handshake, [&] { mit_initiated(accept_with_context); }), "/s",
             ">= 0.70x", 0.7);
  add_paired("handshake, both sides through gssgated",
             paired_rate(o, mit_handshake, both_sides_on(conn, target)), "/s", ">= 0.50x", 0.5);
  add_paired("handshake, acceptor through gssgated (one-shot accept)",
             paired_rate(o, mit_handshake,
                         [&] {
                           mit_initiated([&](const std::string& token) {
                             gssgate::AcceptOnceResult accepted =
                                 gssgate::accept_once(token, {.connection = conn});
                             if (!accepted.token) die("accept_once: no AP-REP");
                             return *accepted.token;
                           });
                         }),
             "/s", ">= 0.70x", 0.7);
  // What the daemon served per handshake, from its own counters (every RPC but GetMetrics), over
  // 100 handshakes after the rows above: releases that ride on the next call cost nothing here.
  {
    constexpr int kCounted = 100;
    auto served = [&] {
      double total = 0;
      for (absl::string_view line : absl::StrSplit(gssgate::metrics_text(conn), '\n')) {
        if (!absl::StartsWith(line, "gssgate_calls_total{") ||
            absl::StrContains(line, "rpc=\"GetMetrics\"")) {
          continue;
        }
        double n = 0;
        if (absl::SimpleAtod(line.substr(line.rfind(' ') + 1), &n)) total += n;
      }
      return total;
    };
    auto per_handshake = [&](const std::function<void()>& handshake) {
      handshake();  // the first may carry releases of the rows before
      const double before = served();
      for (int i = 0; i < kCounted; ++i) handshake();
      return (served() - before) / kCounted;
    };
    const double acceptor_calls = per_handshake([&] {
      mit_initiated([&](const std::string& token) {
        gssgate::SecurityContext server({.connection = conn});
        std::string reply = *server.step(token);
        (void)server.initiator_name();  // what a server reads next: no call of their own
        (void)server.actual_flags();
        return reply;
      });
    });
    const double both_calls = per_handshake([&] {
      gssgate::SecurityContext client({.name = target, .connection = conn});
      gssgate::SecurityContext server({.connection = conn});
      std::optional<std::string> reply = server.step(*client.step());
      client.step(*reply);
      (void)client.target_name();
      (void)server.initiator_name();
    });
    rows.push_back(Row{"RPCs per handshake, acceptor", acceptor_calls, "calls", "-", "1",
                       acceptor_calls <= 1.0 ? "met" : "MISSED"});
    rows.push_back(Row{"RPCs per handshake, both sides", both_calls, "calls", "-", "3",
                       both_calls <= 3.0 ? "met" : "MISSED"});
  }
  // The daemon's own cost per call: a no-op call (ContextTime on a live handle, over a channel
  // of the bench's own) against the bare echo of an empty message, interleaved so both see the
  // same machine; p50 of 3,000 each.
  {
    NoOp raw = no_op_call((*daemon)->socket());
    auto& noop = raw.request;
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    // The same echo in a separate process behind the daemon's own accept path; and again with
    // gRPC's callback health service on, as gssgated had it (what that cost: daemon/
    // health_service.h).
    auto far_echo = [&](const std::string& name, bool health) {
      const std::string socket = (*kdc)->path(name + ".sock");
      auto pid = gt::spawn(
          {"/proc/self/exe", "--child", "echo-server", socket, health ? "health" : "plain"}, {},
          (*kdc)->path(name + ".log"));
      if (!pid.ok()) die(std::string(pid.status().message()));
      for (int i = 0; i < 100 && !gt::unix_socket_accepts(socket); ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
      return std::make_pair(*pid, gssgate::bench::Echo::NewStub(grpc::CreateCustomChannel(
                                      "unix:" + socket, grpc::InsecureChannelCredentials(), args)));
    };
    auto [far_pid, far] = far_echo("echo-far", false);
    auto [health_pid, far_health] = far_echo("echo-far-health", true);
    std::vector<double> noop_us, echo_us, far_us, health_us;
    for (int i = 0; i < 3300; ++i) {
      auto start = Clock::now();
      gssgate::v1::ContextTimeReply reply;
      grpc::ClientContext noop_ctx;
      if (!raw.stub->ContextTime(&noop_ctx, noop, &reply).ok()) die("ContextTime failed");
      const double noop_took = micros_since(start);
      start = Clock::now();
      echo_once("");
      const double echo_took = micros_since(start);
      start = Clock::now();
      gssgate::bench::Blob in, out;
      grpc::ClientContext far_ctx;
      if (!far->Echo(&far_ctx, in, &out).ok()) die("echo (separate process) failed");
      const double far_took = micros_since(start);
      start = Clock::now();
      grpc::ClientContext health_ctx;
      if (!far_health->Echo(&health_ctx, in, &out).ok()) die("echo (with health) failed");
      const double health_took = micros_since(start);
      if (i >= 300) {  // after a warm-up
        noop_us.push_back(noop_took);
        echo_us.push_back(echo_took);
        far_us.push_back(far_took);
        health_us.push_back(health_took);
      }
    }
    gt::terminate(far_pid);
    gt::terminate(health_pid);
    const double noop_p50 = quantile(noop_us, 0.5), echo_p50 = quantile(echo_us, 0.5),
                 far_p50 = quantile(far_us, 0.5);
    rows.push_back(Row{"bare echo, in-process server, p50", echo_p50, "us", "-", "", ""});
    rows.push_back(Row{"bare echo, separate process, same accept path, p50", far_p50, "us",
                       absl::StrFormat("%.2fx", far_p50 / echo_p50), "baseline", ""});
    const double health_p50 = quantile(health_us, 0.5);
    rows.push_back(
        Row{"bare echo, separate process, same accept path, gRPC's callback health "
            "service on, p50",
            health_p50, "us", absl::StrFormat("%.2fx", health_p50 / far_p50), "", ""});
    rows.push_back(Row{"gssgated no-op call (ContextTime), p50", noop_p50, "us",
                       absl::StrFormat("%.2fx", noop_p50 / far_p50), "<= 1.15x of echo",
                       noop_p50 <= 1.15 * far_p50 ? "met" : "MISSED"});
  }
  // The wire transport (docs/wire.md): the same handshakes over the SOCK_SEQPACKET socket, and the
  // socket's own floor (a 1 KiB datagram echoed by a separate process) in the same run.
  std::cerr << "==> the wire transport\n";
  auto wire = std::make_shared<gssgate::Connection>(
      gssgate::ConnectionOptions{.socket = "wire:" + (*daemon)->wire_socket()});
  gssgate::Name wire_target("HTTP@localhost", gssgate::NameType::hostbased_service(), wire);
  double floor_rate = 0;
  {
    const std::string socket = (*kdc)->path("seqpacket-echo.sock");
    auto pid = gt::spawn({"/proc/self/exe", "--child", "seqpacket-echo", socket}, {},
                         (*kdc)->path("seqpacket-echo.log"));
    if (!pid.ok()) die(std::string(pid.status().message()));
    for (int i = 0; i < 100 && !gt::unix_socket_accepts(socket, SOCK_SEQPACKET); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    const int fd = ::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", socket.c_str());
    if (fd < 0 || connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
      die("cannot connect to the seqpacket echo");
    }
    const std::string kib(1024, 'x');
    std::vector<char> back(2048);
    auto round_trip = [&] {
      if (send(fd, kib.data(), kib.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(kib.size()) ||
          recv(fd, back.data(), back.size(), 0) != static_cast<ssize_t>(kib.size())) {
        die("seqpacket echo failed");
      }
    };
    std::vector<double> us;
    for (int i = 0; i < 3300; ++i) {
      const auto start = Clock::now();
      round_trip();
      if (i >= 300) us.push_back(micros_since(start));
    }
    floor_rate = rate(o, round_trip);
    close(fd);
    gt::terminate(*pid);
    rows.push_back(Row{"raw seqpacket round trip 1 KiB (socket floor), p50", quantile(us, 0.5),
                       "us", "-", "", ""});
    add("raw seqpacket round trip 1 KiB (socket floor)", floor_rate, "/s", 0, "baseline", 0);
  }
  auto accept_over_wire = acceptor_on(wire);
  add_paired("handshake, acceptor through gssgated (wire)",
             paired_rate(o, mit_handshake, [&] { mit_initiated(accept_over_wire); }), "/s",
             ">= 0.70x", 0.7);
  add_paired("handshake, both sides through gssgated (wire)",
             paired_rate(o, mit_handshake, both_sides_on(wire, wire_target)), "/s", ">= 0.50x",
             0.5);
  {
    gssgate::SecurityContext client({.name = wire_target, .connection = wire});
    gssgate::SecurityContext server({.connection = wire});
    client.step(*server.step(*client.step()));
    const std::string kib(1024, 'x');
    const double wrap_wire = rate(o, [&] { server.unwrap(client.wrap(kib, true).message); });
    // wrap and unwrap are two calls: the floor for them is two raw round trips.
    add("wrap+unwrap 1 KiB, gssgated (wire) vs the socket floor", wrap_wire, "/s", floor_rate / 2,
        ">= 0.80x", 0.8);
  }
  // Transparent mode (issue 16): unmodified GSSAPI code in a child process, one side behind an
  // interposer module (gssgate's, then gssproxy's), the other side in-process krb5.
  std::cerr << "==> handshakes through gssgate's and gssproxy's interposer modules, in "
               "alternating rounds (child processes)\n";
  std::string no_gssproxy;
  std::unique_ptr<Gssproxy> gssproxy =
      start_gssproxy(**kdc, service_keytab, client_keytab, &no_gssproxy);
  // gssgated's own acceptors (libgssgate over gRPC and over the wire) get a round beside each
  // round of the modules, for their ratios to gssproxy's.
  const ModuleRows modules = module_rows(
      **kdc, o, (*daemon)->wire_socket(), service_keytab, client_keytab, gssproxy.get(),
      {[&] { mit_initiated(accept_with_context); }, [&] { mit_initiated(accept_over_wire); }});
  gssproxy.reset();
  add("handshake, acceptor through gssgate's module (Apache-style)", modules.gssgate.acceptor, "/s",
      hs_mit, "", 0);
  add("handshake, initiator through gssgate's module (curl-style)", modules.gssgate.initiator, "/s",
      hs_mit, "", 0);
  if (modules.gssproxy.acceptor > 0) {
    add("handshake, acceptor through gssproxy's module", modules.gssproxy.acceptor, "/s", hs_mit,
        "", 0);
    add("handshake, initiator through gssproxy's module", modules.gssproxy.initiator, "/s", hs_mit,
        "", 0);
    add_paired("handshake, acceptor: gssgated (libgssgate) vs gssproxy's module",
               modules.in_process[0], "/s", ">= 1.50x", 1.5);
    add_paired("handshake, acceptor: gssgated (libgssgate, wire) vs gssproxy's module",
               modules.in_process[1], "/s", "", 0);
    add_paired("handshake, acceptor: gssgate's module vs gssproxy's",
               Paired{modules.gssproxy.acceptor, modules.gssgate.acceptor, modules.ratio.acceptor},
               "/s", ">= 2.00x", 2.0);
    add_paired(
        "handshake, initiator: gssgate's module vs gssproxy's",
        Paired{modules.gssproxy.initiator, modules.gssgate.initiator, modules.ratio.initiator},
        "/s", "", 0);
  } else {
    rows.push_back(
        Row{"handshake, acceptor through gssproxy's module", 0, "", "-", no_gssproxy, "skipped"});
  }

  // Per-message rows: wrap+unwrap and get_mic+verify, 1 KiB and 64 KiB, with one caller and with
  // kCallers concurrent callers (threads of one process: each its own established context pair;
  // through gssgated they share one Connection, as a threaded service would).
  constexpr int kCallers = 8;
  struct MitPair {
    gss::ContextHandle client, server;
  };
  std::vector<MitPair> mit_pairs(kCallers);
  std::vector<std::unique_ptr<gssgate::SecurityContext>> clients, servers;
  for (int i = 0; i < kCallers; ++i) {
    mit.handshake(&mit_pairs[i].client, &mit_pairs[i].server);
    clients.push_back(std::make_unique<gssgate::SecurityContext>(
        gssgate::SecurityContextOptions{.name = target, .connection = conn}));
    servers.push_back(std::make_unique<gssgate::SecurityContext>(
        gssgate::SecurityContextOptions{.connection = conn}));
    clients[i]->step(*servers[i]->step(*clients[i]->step()));
  }
  // The opt-in bulk path: pairs established through gssgated, then both sides made local.
  std::vector<std::unique_ptr<gssgate::SecurityContext>> local_clients, local_servers;
  for (int i = 0; i < kCallers; ++i) {
    local_clients.push_back(std::make_unique<gssgate::SecurityContext>(
        gssgate::SecurityContextOptions{.name = target, .connection = conn}));
    local_servers.push_back(std::make_unique<gssgate::SecurityContext>(
        gssgate::SecurityContextOptions{.connection = conn}));
    local_clients[i]->step(*local_servers[i]->step(*local_clients[i]->step()));
    local_clients[i]->make_local();
    local_servers[i]->make_local();
  }
  const uint64_t rss_idle = gt::rss_kib((*daemon)->pid());
  // Most of the RSS is shared libraries' code pages (file-backed, shared with every process that
  // maps them); RssAnon is the daemon's own memory.
  const uint64_t anon_idle =
      std::strtoull(gt::proc_status((*daemon)->pid(), "RssAnon").c_str(), nullptr, 10);
  uint64_t rss_load = 0;

  for (int callers : {1, kCallers}) {
    for (size_t size : {size_t{1024}, size_t{64 * 1024}}) {
      const std::string payload(size, 'x');
      const std::string label =
          absl::StrCat(size == 1024 ? "1 KiB" : "64 KiB",
                       callers == 1 ? "" : absl::StrCat(", ", callers, " callers"));
      std::cerr << "==> per-message, " << label << "\n";
      const double wrap_mit = rate_parallel(o, callers, [&](int i) {
        gss::WrapResult w;
        must(gss::wrap(mit_pairs[i].client, payload, true, GSS_C_QOP_DEFAULT, &w), "wrap");
        gss::UnwrapResult u;
        must(gss::unwrap(mit_pairs[i].server, w.token, &u), "unwrap");
      });
      const double wrap_daemon = rate_parallel(
          o, callers, [&](int i) { servers[i]->unwrap(clients[i]->wrap(payload, true).message); },
          callers == 1 ? std::function<void()>()
                       : [&] { rss_load = std::max(rss_load, gt::rss_kib((*daemon)->pid())); });
      const double mic_mit = rate_parallel(o, callers, [&](int i) {
        std::string mic;
        must(gss::get_mic(mit_pairs[i].client, payload, GSS_C_QOP_DEFAULT, &mic), "get_mic");
        must(gss::verify_mic(mit_pairs[i].server, payload, mic, nullptr), "verify_mic");
      });
      const double mic_daemon = rate_parallel(o, callers, [&](int i) {
        servers[i]->verify_signature(payload, clients[i]->get_signature(payload));
      });
      const double wrap_local = rate_parallel(o, callers, [&](int i) {
        local_servers[i]->unwrap(local_clients[i]->wrap(payload, true).message);
      });
      const double echo2 = rate_parallel(o, callers, [&](int) {
        echo_once(payload);
        echo_once(payload);
      });
      const double mib = static_cast<double>(size) / (1 << 20);
      add(absl::StrCat("wrap+unwrap ", label, ", in-process MIT"), wrap_mit * mib, "MiB/s", 0,
          "baseline", 0);
      add(absl::StrCat("two bare echo RPCs ", label, " (IPC floor)"), echo2 * mib, "MiB/s",
          wrap_mit * mib, "", 0);
      if (size == 1024) {
        add(absl::StrCat("wrap+unwrap ", label, ", gssgated vs the echo floor"), wrap_daemon * mib,
            "MiB/s", echo2 * mib, ">= 0.80x of echo", 0.8);
        add(absl::StrCat("get_mic+verify ", label, ", in-process MIT"), mic_mit * mib, "MiB/s", 0,
            "baseline", 0);
        add(absl::StrCat("get_mic+verify ", label, ", gssgated vs the echo floor"),
            mic_daemon * mib, "MiB/s", echo2 * mib, "", 0);
      } else {
        add(absl::StrCat("wrap+unwrap ", label, ", gssgated vs in-process"), wrap_daemon * mib,
            "MiB/s", wrap_mit * mib, ">= 0.70x", 0.7);
        add(absl::StrCat("get_mic+verify ", label, ", in-process MIT"), mic_mit * mib, "MiB/s", 0,
            "baseline", 0);
        add(absl::StrCat("get_mic+verify ", label, ", gssgated vs in-process"), mic_daemon * mib,
            "MiB/s", mic_mit * mib, "", 0);
      }
      add(absl::StrCat("wrap+unwrap ", label, ", bulk path (make_local) vs in-process"),
          wrap_local * mib, "MiB/s", wrap_mit * mib, ">= 0.90x", 0.9);
    }
  }
  // RSS: after start-up and the handshake rows with nothing in flight, and the most seen while
  // the concurrent rows ran. The target is for idle.
  const double kib_per_mib = 1024.0;
  rows.push_back(Row{"daemon RSS, idle", rss_idle / kib_per_mib, "MiB", "-", "< 20 MiB",
                     rss_idle / kib_per_mib < 20 ? "met" : "MISSED"});
  rows.push_back(Row{"daemon RSS, idle: anonymous (not library code)", anon_idle / kib_per_mib,
                     "MiB", "-", "", ""});
  rows.push_back(Row{absl::StrCat("daemon RSS, under load (", kCallers, " callers)"),
                     rss_load / kib_per_mib, "MiB", "-", "", ""});

  // Many connections at once: each its own Connection (socket), established before the start,
  // then handshake + 1 KiB wrap+unwrap, both sides through gssgated, kSessions times.
  {
    std::cerr << "==> " << o.connections << " concurrent connections\n";
    const std::string kib(1024, 'x');
    const double session_mit = rate(o, [&] {
      gss::ContextHandle client, server;
      mit.handshake(&client, &server);
      gss::WrapResult w;
      must(gss::wrap(client, kib, true, GSS_C_QOP_DEFAULT, &w), "wrap");
      gss::UnwrapResult u;
      must(gss::unwrap(server, w.token, &u), "unwrap");
    });
    constexpr int kSessions = 3;
    std::mutex mu;
    std::vector<double> latency_ms;
    std::atomic<int> errors{0}, ready{0};
    std::string first_error;
    std::atomic<bool> go{false}, finished{false};
    uint64_t rss_peak = 0;
    std::vector<std::thread> threads;
    for (int t = 0; t < o.connections; ++t) {
      threads.emplace_back([&] {
        std::vector<double> mine;
        try {
          auto c = std::make_shared<gssgate::Connection>(
              gssgate::ConnectionOptions{.socket = (*daemon)->socket()});
          gssgate::whoami(c);  // connected and known to the daemon before the start
          gssgate::Name name("HTTP@localhost", gssgate::NameType::hostbased_service(), c);
          ++ready;
          while (!go) std::this_thread::sleep_for(std::chrono::milliseconds(1));
          for (int i = 0; i < kSessions; ++i) {
            const auto start = Clock::now();
            gssgate::SecurityContext client({.name = name, .connection = c});
            gssgate::SecurityContext server({.connection = c});
            client.step(*server.step(*client.step()));
            server.unwrap(client.wrap(kib, true).message);
            mine.push_back(micros_since(start) / 1000);
          }
        } catch (const std::exception& e) {
          ++ready;
          std::lock_guard<std::mutex> lock(mu);
          if (errors++ == 0) first_error = e.what();
        }
        std::lock_guard<std::mutex> lock(mu);
        latency_ms.insert(latency_ms.end(), mine.begin(), mine.end());
      });
    }
    while (ready < o.connections) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    std::cerr << "  " << o.connections << " connections open\n";
    std::thread sampler([&] {
      while (!finished) {
        rss_peak = std::max(rss_peak, gt::rss_kib((*daemon)->pid()));
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
    });
    const auto start = Clock::now();
    go = true;
    for (std::thread& t : threads) t.join();
    const double wall = micros_since(start) / 1e6;
    finished = true;
    sampler.join();
    const size_t sessions = latency_ms.size();
    const std::string what =
        absl::StrCat(o.connections, " connections: handshake + 1 KiB wrap+unwrap");
    add(absl::StrCat("session (handshake + 1 KiB wrap+unwrap), in-process MIT"), session_mit, "/s",
        0, "baseline", 0);
    add(absl::StrCat(what, ", gssgated"), sessions / wall, "/s", session_mit, "", 0);
    rows.push_back(
        Row{absl::StrCat(what, ", p50 latency"), quantile(latency_ms, 0.5), "ms", "-", "", ""});
    rows.push_back(
        Row{absl::StrCat(what, ", p99 latency"), quantile(latency_ms, 0.99), "ms", "-", "", ""});
    rows.push_back(Row{absl::StrCat("daemon RSS, ", o.connections, " connections (peak)"),
                       rss_peak / kib_per_mib, "MiB", "-", "", ""});
    if (errors > 0) {
      rows.push_back(Row{absl::StrCat(what, ": failed connections"), static_cast<double>(errors),
                         "", "-", first_error, "ERRORS"});
    }
  }

  // The handle table with o.handles live handles. Contexts: imported in-process from one exported
  // token, held bare (MIT's own memory) and in gssgated's HandleTable (beyond MIT's own), each in
  // its own child. Credentials: AcquireCreds through the real daemon (its RSS delta) against the
  // same acquisitions in-process.
  {
    const std::string n = absl::StrCat(o.handles);
    std::cerr << "==> handle table, " << n << " live handles\n";
    const std::string token_file = (*kdc)->path("context.token");
    {
      gss::ContextHandle client, server;
      mit.handshake(&client, &server);
      std::string token;
      must(gss::export_context(&server, &token), "export_context");
      std::ofstream(token_file, std::ios::binary) << token;
    }
    const double per = 1024.0 / o.handles;
    auto mit_ctx = run_child(o, {"mit-contexts", n, token_file}, {});
    auto table_ctx = run_child(o, {"table-contexts", n, token_file}, {});
    const double ctx_mit = mit_ctx["kib"] * per, ctx_table = table_ctx["kib"] * per;
    rows.push_back(Row{"bytes per context, MIT's own (in-process)", ctx_mit, "B", "-", "", ""});
    rows.push_back(Row{absl::StrCat("bytes per context handle beyond MIT's (", n, " in table)"),
                       ctx_table - ctx_mit, "B", "-", "< 4096 B",
                       ctx_table - ctx_mit < 4096 ? "met" : "MISSED"});
    rows.push_back(Row{absl::StrCat("handle lookup among ", n, ", p50"), table_ctx["p50_ns"], "ns",
                       "-", "", ""});
    rows.push_back(Row{absl::StrCat("handle lookup among ", n, ", p99"), table_ctx["p99_ns"], "ns",
                       "-", "", ""});
    // MIT's own per initiator context from at most 100,000 handshakes: the size per context does
    // not depend on how many there are, and each costs a handshake.
    const int sample = std::min(o.handles, 100'000);
    const std::string alice = (*kdc)->qualify("alice");
    auto mit_init = run_child(
        o, {"mit-initiator-contexts", absl::StrCat(sample), alice, client_keytab, service_keytab},
        {});
    const uint64_t live_before = gssgate::daemon_status(conn).live_handles;
    auto daemon_ctx =
        run_child(o,
                  {"daemon-contexts", n, (*daemon)->socket(), absl::StrCat((*daemon)->pid()), alice,
                   client_keytab, service_keytab},
                  {});
    // The child has exited: gssgated now releases its handles as its connections close.
    const auto release_started = Clock::now();
    while (gssgate::daemon_status(conn).live_handles > live_before) {
      if (micros_since(release_started) > 300e6)
        die("gssgated kept handles of a closed connection");
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    rows.push_back(Row{absl::StrCat("release of ", n, " handles as their connections close"),
                       micros_since(release_started) / 1e6, "s", "-", "", ""});
    const double init_mit = mit_init["kib"] * 1024.0 / sample,
                 init_daemon = daemon_ctx["kib"] * per;
    rows.push_back(
        Row{"bytes per initiator context, MIT's own (in-process)", init_mit, "B", "-", "", ""});
    rows.push_back(
        Row{absl::StrCat("bytes per context handle in gssgated beyond MIT's (", n, " live)"),
            init_daemon - init_mit, "B", "-", "< 4096 B",
            init_daemon - init_mit < 4096 ? "met" : "MISSED"});
    for (const char* q : {"p50", "p99"}) {
      const double one = daemon_ctx[absl::StrCat("one_", q, "_us")];
      const double full = daemon_ctx[absl::StrCat("full_", q, "_us")];
      rows.push_back(
          Row{absl::StrCat("WrapSizeLimit RPC, ", q, ", 1 live handle"), one, "us", "-", "", ""});
      rows.push_back(Row{absl::StrCat("WrapSizeLimit RPC, ", q, ", ", n, " live handles"), full,
                         "us", absl::StrFormat("%.2fx", one / full), "", "", 0, 0});
    }
  }

  std::cout << "\ngssgate-bench on " << machine() << "\n"
            << absl::StrFormat(
                   "%d rounds of %.2f s per rate row, median shown; %d handles, %d "
                   "connections\n\n",
                   o.rounds, o.seconds / o.rounds, o.handles, o.connections);
  std::cout << absl::StrFormat("%-68s %14s %9s  %-17s %s\n", "measure", "value", "ratio", "target",
                               "");
  for (const Row& r : rows) {
    std::cout << absl::StrFormat("%-68s %10.1f %-5s %8s  %-17s %s\n", r.name, r.value, r.unit,
                                 r.ratio_text, r.target, r.verdict);
  }
  std::cout << "\n~ paired: measured in rounds alternating with its baseline's; the ratio is the "
               "median of the per-round ratios\n  (the baseline's own median, per row, is "
               "\"paired_baseline\" in --json)\n";
  std::cout.flush();
  if (!o.json.empty()) write_json(rows, o.json);
  if (!o.chart.empty()) {
    write_chart(rows, o.chart,
                absl::StrCat("gssgate-bench, ratios measured in one run (", machine(), ")"));
  }
  echo_server->Shutdown();
  // Not stop_cleanly(): its message carries the whole log, two audit lines per handle here.
  const auto stop_started = Clock::now();
  absl::StatusOr<int> code = (*daemon)->stop();
  if (!code.ok() || *code != 0) {
    die(absl::StrCat("gssgated did not stop cleanly: ",
                     code.ok() ? absl::StrCat("exit code ", *code) : code.status().ToString()));
  }
  std::cerr << "gssgated stopped cleanly in " << micros_since(stop_started) / 1000 << " ms\n";
  return 0;
}
