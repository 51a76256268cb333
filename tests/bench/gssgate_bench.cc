// gssgate-bench: gssgated side by side with in-process MIT krb5 and a bare gRPC echo, on a real
// throwaway realm, all measured in one run and reported as ratios (the machines are shared and
// noisy: absolute numbers from different runs do not compare, ratios from one run do).
//
//   gssgate-bench [--seconds S] [--rounds N]
//
// Each row runs N rounds of about S/N seconds after a short warm-up and reports the median rate.
// The targets are DESIGN.md §7 / issue 6's; the last column says whether this run met them.
// Not timed assertions: nothing here fails a test.

#include <grpcpp/grpcpp.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <functional>
#include <iostream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "echo.grpc.pb.h"
#include "gssgate/gssgate.h"
#include "lib/gss/context.h"
#include "lib/gss/cred.h"
#include "lib/gss/name.h"
#include "tests/fixtures/gssgated_process.h"
#include "tests/fixtures/mini_kdc.h"

namespace {

using Clock = std::chrono::steady_clock;
namespace gt = gssgate::testing;
namespace gss = gssgate::gss;

struct Options {
  double seconds = 3.0;
  int rounds = 5;
};

[[noreturn]] void die(const std::string& what) {
  std::cerr << "gssgate-bench: " << what << "\n";
  std::exit(1);
}
void must(const gss::GssStatus& s, const char* what) {
  if (!s.ok()) die(absl::StrCat(what, ": ", s.message()));
}

// Runs `op` (one operation) repeatedly; the median over rounds of operations per second.
double rate(const Options& o, const std::function<void()>& op) {
  const auto warm_until = Clock::now() + std::chrono::milliseconds(200);
  while (Clock::now() < warm_until) op();
  const auto round = std::chrono::duration<double>(o.seconds / o.rounds);
  std::vector<double> rates;
  for (int r = 0; r < o.rounds; ++r) {
    uint64_t n = 0;
    const auto start = Clock::now();
    auto now = start;
    do {
      op();
      ++n;
      now = Clock::now();
    } while (now - start < round);
    rates.push_back(n / std::chrono::duration<double>(now - start).count());
    std::cerr << "." << std::flush;
  }
  std::sort(rates.begin(), rates.end());
  return rates[rates.size() / 2];
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

  InProcess(const gt::MiniKdc& kdc, const std::string& client_keytab,
            const std::string& service_keytab) {
    gss::NameHandle alice;
    must(gss::import_name(kdc.qualify("alice"), gss::oids::nt_krb5_principal_name(), &alice),
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
};

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

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--seconds") {
      o.seconds = std::atof(argv[i + 1]);
    } else if (a == "--rounds") {
      o.rounds = std::max(1, std::atoi(argv[i + 1]));
    } else {
      die("usage: gssgate-bench [--seconds S] [--rounds N]");
    }
  }

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
                   "\"\nclient_keytab = \"", client_keytab, "\"\nmax_handles = 100000\n"),
      gt::GssgatedOptions{.extra_args = {"--log-level", "info"}});
  if (!daemon.ok()) die(std::string(daemon.status().message()));
  auto conn = std::make_shared<gssgate::Connection>(
      gssgate::ConnectionOptions{.socket = (*daemon)->socket()});

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

  InProcess mit(**kdc, client_keytab, service_keytab);
  gssgate::Name target("HTTP@localhost", gssgate::NameType::hostbased_service(), conn);
  std::vector<Row> rows;
  auto add = [&](std::string name, double value, std::string unit, double baseline,
                 std::string target_text, double target_ratio) {
    double ratio = baseline > 0 ? value / baseline : 0;
    rows.push_back(Row{std::move(name), value, std::move(unit),
                       baseline > 0 ? absl::StrFormat("%.2fx", ratio) : "-", std::move(target_text),
                       target_ratio <= 0 ? "" : (ratio >= target_ratio ? "met" : "MISSED")});
    std::cerr << " " << rows.back().name << "\n";
  };

  std::cerr << "==> handshakes (mutual authentication)\n";
  const double hs_mit = rate(o, [&] {
    gss::ContextHandle client, server;
    mit.handshake(&client, &server);
  });
  add("handshake, in-process MIT", hs_mit, "/s", 0, "baseline", 0);
  const double hs_acceptor = rate(o, [&] {
    gss::ContextHandle client;
    gss::InitSecContextRequest init;
    init.cred = &mit.initiator.cred;
    init.target = &mit.target;
    gss::InitSecContextResult token;
    must(gss::init_sec_context(&client, init, &token), "init");
    gssgate::SecurityContext server({.connection = conn});
    std::optional<std::string> reply = server.step(token.output_token);
    init.input_token = *reply;
    must(gss::init_sec_context(&client, init, &token), "init (mutual)");
  });
  add("handshake, acceptor through gssgated", hs_acceptor, "/s", hs_mit, ">= 0.70x", 0.7);
  const double hs_both = rate(o, [&] {
    gssgate::SecurityContext client({.name = target, .connection = conn});
    gssgate::SecurityContext server({.connection = conn});
    std::optional<std::string> reply = server.step(*client.step());
    client.step(*reply);
  });
  add("handshake, both sides through gssgated", hs_both, "/s", hs_mit, ">= 0.50x", 0.5);

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
  const uint64_t rss_idle = gt::rss_kib((*daemon)->pid());
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
    }
  }
  // RSS: after start-up and the handshake rows with nothing in flight, and the most seen while
  // the concurrent rows ran. The target is for idle.
  const double kib_per_mib = 1024.0;
  rows.push_back(Row{"daemon RSS, idle", rss_idle / kib_per_mib, "MiB", "-", "< 20 MiB",
                     rss_idle / kib_per_mib < 20 ? "met" : "MISSED"});
  rows.push_back(Row{absl::StrCat("daemon RSS, under load (", kCallers, " callers)"),
                     rss_load / kib_per_mib, "MiB", "-", "", ""});

  std::cout << "\ngssgate-bench on " << machine() << "\n"
            << absl::StrFormat("%d rounds of %.2f s per row, median shown\n\n", o.rounds,
                               o.seconds / o.rounds);
  std::cout << absl::StrFormat("%-58s %14s %9s  %-17s %s\n", "measure", "rate", "ratio", "target",
                               "");
  for (const Row& r : rows) {
    std::cout << absl::StrFormat("%-58s %10.1f %-4s %8s  %-17s %s\n", r.name, r.value, r.unit,
                                 r.ratio_text, r.target, r.verdict);
  }
  echo_server->Shutdown();
  if (!(*daemon)->stop_cleanly().ok()) die("gssgated did not stop cleanly");
  return 0;
}
