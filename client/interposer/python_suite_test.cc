// Issue 16, proof 4: python-gssapi's own high-level suite (gssapi/tests/test_high_level.py as
// Debian's python3-gssapi ships it, unchanged) runs through gssgate's interposer module. Every
// GSSAPI call of the suite goes to a gssgated; the realm helper it imports (k5test, which Debian
// does not package) is tests/python/k5test, which starts that daemon beside each test class's
// KDC with one rule for the calling uid over the realm's own keytab and ccache.
//
// The suite expects what MIT gives in-process, so each test that fails through the module is a
// difference a program would see. Three remain, each for a reason of design (docs/transparent.md,
// "python-gssapi's suite"); any other failure, or one of these passing, fails this test.

#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/fixtures/subprocess.h"

namespace gssgate::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kModuleOid[] = "2.25.5955277318674287388";

// A directory for one run (realms, sockets, logs), removed when the test ends however it ends.
class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/gssgate-pysuite-XXXXXX";
    if (mkdtemp(tmpl) != nullptr) path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ignored;
    if (!path_.empty()) std::filesystem::remove_all(path_, ignored);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

struct SuiteRun {
  std::map<std::string, std::string> outcome;     // "Class.test_name" -> ok, FAIL, ERROR, skipped
  std::set<std::string> passed, failed, skipped;  // the same, by outcome
  std::string output;
  std::string daemon_logs;
};

// Runs test_high_level.py with the module loaded and opted in. The suite compares the host
// principal MIT makes from "host@" (gethostname()) with socket.getfqdn(); they differ on hosts
// whose name is not its own FQDN, so it runs in a UTS namespace whose host name is "localhost"
// (root only, as CI is).
// `mode` is GSSGATE_INTERPOSE's value; without `daemon`, no gssgated runs and the wire socket
// does not exist.
SuiteRun run_suite(const std::string& dir, const std::string& mode = "1", bool daemon = true,
                   const std::string& suite = "test_high_level") {
  SuiteRun result;
  const std::string mech_config = dir + "/gss-mech";
  std::ofstream(mech_config) << "gssgate " << kModuleOid << " " << GSSGATE_INTERPOSER_FOR_TESTS
                             << " <interposer>\n";
  const std::string logs = dir + "/daemons.log";
  Env env = {{"PATH", "/usr/sbin:/usr/bin:/sbin:/bin"},
             {"HOME", dir},
             {"TMPDIR", dir},
             {"PYTHONPATH", GSSGATE_K5TEST_DIR_FOR_TESTS},
             {"PYTHONDONTWRITEBYTECODE", "1"},
             {"GSSGATE_SOCKET", dir + "/gssgate.wire"},
             {"GSS_MECH_CONFIG", mech_config},
             {"GSSGATE_INTERPOSE", mode}};
  if (daemon) {
    env["GSSGATE_K5TEST_GSSGATED"] = GSSGATED_PATH_FOR_TESTS;
    env["GSSGATE_K5TEST_SOCKET"] = dir + "/gssgate.sock";
    env["GSSGATE_K5TEST_LOGS"] = logs;
  }
  for (const char* name : {"ASAN_OPTIONS", "LSAN_OPTIONS", "UBSAN_OPTIONS", "LD_PRELOAD"}) {
    if (const char* value = std::getenv(name)) env[name] = value;
  }
  absl::StatusOr<RunResult> run_result =
      run({"/usr/bin/unshare", "--uts", "/bin/sh", "-c",
           "hostname localhost && exec /usr/bin/python3 -m unittest -v gssapi.tests." + suite},
          env, "", std::chrono::minutes(5));
  EXPECT_TRUE(run_result.ok()) << run_result.status();
  if (!run_result.ok()) return result;
  result.output = run_result->output;
  const std::regex line(R"(^(test_\S+) \(gssapi\.tests\.)" + suite +
                        R"(\.(\w+)\.\S+\) \.\.\. (ok|FAIL|ERROR|skipped))");
  std::istringstream in(result.output);
  for (std::string text; std::getline(in, text);) {
    std::smatch m;
    if (std::regex_search(text, m, line)) result.outcome[m[2].str() + "." + m[1].str()] = m[3];
  }
  for (const auto& [test, outcome] : result.outcome) {
    (outcome == "ok"        ? result.passed
     : outcome == "skipped" ? result.skipped
                            : result.failed)
        .insert(test);
  }
  std::ifstream log_file(logs);
  result.daemon_logs.assign(std::istreambuf_iterator<char>(log_file), {});
  return result;
}

// unittest's report of each test in `failed` but not in `expected` ("FAIL: test_x (...)" with its
// traceback), put first in a failure message: the whole output is long, and CI shows its start.
std::string unexpected_failures(const SuiteRun& run, const std::set<std::string>& expected) {
  std::string out;
  for (const std::string& test : run.failed) {
    if (expected.count(test) > 0) continue;
    const std::string name = test.substr(test.find('.') + 1);
    for (const char* kind : {"FAIL: ", "ERROR: "}) {
      size_t at = run.output.find(absl::StrCat(kind, name, " ("));
      if (at == std::string::npos) continue;
      size_t end = run.output.find("\n=====", at);
      if (end == std::string::npos) end = run.output.find("\n-----", run.output.find('\n', at) + 1);
      absl::StrAppend(&out, run.output.substr(at, end == std::string::npos ? 4000 : end - at),
                      "\n\n");
    }
  }
  return out.empty() ? out : absl::StrCat("unexpected failures:\n", out, "the whole output:\n");
}

int count(const std::string& haystack, const std::string& needle) {
  int n = 0;
  for (size_t at = haystack.find(needle); at != std::string::npos;
       at = haystack.find(needle, at + 1)) {
    ++n;
  }
  return n;
}

// test_raw.py's tests that fail through the module, each for the reason given
// (docs/transparent.md, "What is not done"). In fallback mode without a daemon the program's own
// stores are its own, so the store test passes there.
std::set<std::string> raw_suite_failures(bool fallback) {
  std::set<std::string> failures = {
      // MIT labels what a module returns with the module's OID (as test_is_mech_name above).
      "TestBaseUtilities.test_acquire_creds_impersonate_name",
      "TestBaseUtilities.test_inquire_name_mech_name",
      // A store the rule does not grant (other_ccache).
      "TestBaseUtilities.test_store_cred_into_acquire_cred",
      // gss_krb5_ccache_name reaches MIT's krb5 in the program (gssi_mech_invoke) and names the
      // ccache it uses; gssgated initiates from the rule's ccache (host/localhost's here), not
      // from one the program names, so the credential is not the test's user.
      "TestBaseUtilities.test_krb5_ccache_name",
      // Refused by design: a lucid context holds the keys as pointers into the process
      // (InquireSecContextByOid answers ticket flags, authtime, authz data and the session key).
      "TestBaseUtilities.test_krb5_export_lucid_sec_context",
      // The same refusal at its end: its enctype options work through gssgated (SetCredOption;
      // the test checks the daemon's audit lines), and it then reads both contexts' lucid forms.
      "TestBaseUtilities.test_krb5_set_allowable_enctypes",
  };
  if (fallback) {
    // With no daemon the contexts are MIT's own in the process, lucid export included.
    failures.erase("TestBaseUtilities.test_store_cred_into_acquire_cred");
    failures.erase("TestBaseUtilities.test_krb5_export_lucid_sec_context");
    failures.erase("TestBaseUtilities.test_krb5_set_allowable_enctypes");
    failures.erase("TestBaseUtilities.test_krb5_ccache_name");
  }
  return failures;
}

// Skips where the suite cannot run: a TSan build, an ASan build without its runtime preloaded
// into python (CMake's InterposerSuiteUnderAsan... test preloads it), a non-root user.
#if defined(__SANITIZE_THREAD__)
#define SKIP_UNLESS_THE_SUITE_CAN_RUN() \
  GTEST_SKIP() << "a TSan-built module cannot load into python (its runtime must come first)"
#elif defined(__SANITIZE_ADDRESS__)
#define SKIP_UNLESS_THE_SUITE_CAN_RUN()                                                    \
  if (std::getenv("LD_PRELOAD") == nullptr) GTEST_SKIP() << "needs libasan in LD_PRELOAD"; \
  if (geteuid() != 0) GTEST_SKIP() << "needs root (a UTS namespace for the host name)"
#else
#define SKIP_UNLESS_THE_SUITE_CAN_RUN() \
  if (geteuid() != 0) GTEST_SKIP() << "needs root (a UTS namespace for the host name)"
#endif

TEST(InterposerSuiteTest, PythonGssapisOwnHighLevelSuitePassesThroughTheModule) {
  SKIP_UNLESS_THE_SUITE_CAN_RUN();
  TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  SuiteRun run = run_suite(dir.path());
  ASSERT_FALSE(run.outcome.empty()) << run.output;

  const std::set<std::string>& passed = run.passed;
  const std::set<std::string>& failed = run.failed;
  const std::set<std::string>& skipped = run.skipped;
  // Debian's python3-gssapi 1.8.2: 119 tests; 3 need a krb5 authdata plugin (greet_client)
  // Debian does not ship, and skip here as they do in-process.
  EXPECT_GE(run.outcome.size(), 119u) << run.output;
  EXPECT_EQ(skipped.size(), 3u) << absl::StrJoin(skipped, "\n");
  const std::set<std::string> expected_failures = {
      // MIT labels every name a module returns with the module's OID, not krb5's (as with
      // gssproxy's module): inquire_name's mech is 2.25.5955277318674287388 + krb5's OID.
      "NamesTestCase.test_is_mech_name",
      // The tests name stores of their own in cred_store (other_ccache, other_keytab);
      // gssgated takes stores only from the caller's rule, never from the caller.
      "CredsTestCase.test_store_into_acquire_from",
      "CredsTestCase.test_store_into_add_from",
  };
  EXPECT_EQ(failed, expected_failures) << unexpected_failures(run, expected_failures) << run.output;
  EXPECT_GE(passed.size(), 113u);
  // And they fail for those reasons, not for others.
  EXPECT_THAT(run.output, HasSubstr(absl::StrCat(kModuleOid, ".42.840.113554.1.2.2")));
  EXPECT_THAT(run.output, HasSubstr("is not granted by policy rule \"k5test\""));

  // The daemons did the work: every handshake, impersonation, store and credential export of the
  // suite is in their audit lines, under the caller's rule.
  EXPECT_GE(count(run.daemon_logs, "audit op=init "), 30) << run.daemon_logs.size();
  EXPECT_GE(count(run.daemon_logs, "audit op=accept "), 20);
  EXPECT_GE(count(run.daemon_logs, "audit op=impersonate "), 8);
  EXPECT_GE(count(run.daemon_logs, "audit op=store_cred "), 1);
  EXPECT_GE(count(run.daemon_logs, "audit op=export_cred "), 2);
  EXPECT_GE(count(run.daemon_logs, "audit op=import_cred "), 2);
  EXPECT_EQ(count(run.daemon_logs, "rule=k5test"), count(run.daemon_logs, "info audit op="));
  // No sanitizer report from the module (in python) or a daemon, where the build has one.
  EXPECT_THAT(run.output, Not(HasSubstr("Sanitizer")));
  EXPECT_THAT(run.daemon_logs, Not(HasSubstr("Sanitizer")));
}

// GSSGATE_INTERPOSE=fallback with no gssgated: every call the suite makes is carried out by MIT's
// own krb5 inside python, through the module's local path (its credentials, contexts and names
// of the program's own), and the suite passes as it does without the module, but for the name
// labelling every interposer has.
TEST(InterposerSuiteTest, WithFallbackAndNoDaemonTheSuiteRunsOnMitsOwnKrb5ThroughTheModule) {
  SKIP_UNLESS_THE_SUITE_CAN_RUN();
  TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  SuiteRun run = run_suite(dir.path(), "fallback", /*daemon=*/false);
  ASSERT_FALSE(run.outcome.empty()) << run.output;
  const std::set<std::string>& passed = run.passed;
  const std::set<std::string>& failed = run.failed;
  const std::set<std::string> expected_failures = {"NamesTestCase.test_is_mech_name"};
  EXPECT_EQ(failed, expected_failures) << unexpected_failures(run, expected_failures) << run.output;
  EXPECT_GE(passed.size(), 115u);
  // The module was loaded and interposed: the one failure is its OID on names.
  EXPECT_THAT(run.output, HasSubstr(absl::StrCat(kModuleOid, ".42.840.113554.1.2.2")));
  EXPECT_THAT(run.output, Not(HasSubstr("Sanitizer")));

  // The raw suite the same way: it accepts without a credential, which once sent the module's
  // local accept back into itself until the stack ran out (MIT takes the mechanism from the
  // token unless a credential names the local one).
  SuiteRun raw = run_suite(dir.path(), "fallback", /*daemon=*/false, "test_raw");
  ASSERT_FALSE(raw.outcome.empty()) << raw.output;
  EXPECT_EQ(raw.failed, raw_suite_failures(/*fallback=*/true))
      << unexpected_failures(raw, raw_suite_failures(/*fallback=*/true)) << raw.output;
  EXPECT_GE(raw.passed.size(), 79u);
  EXPECT_THAT(raw.output, HasSubstr("Ran 88 tests")) << "the suite ran to its end";
  EXPECT_THAT(raw.output, Not(HasSubstr("Sanitizer")));
}

// python-gssapi's raw suite (gssapi/tests/test_raw.py, the C-level API) through the module: what
// passes stays passing, and what does not is exactly this list, each for the reason given
// (docs/transparent.md, "What is not done"). Implementing one of them moves it out of the list.
TEST(InterposerSuiteTest, PythonGssapisRawSuiteThroughTheModuleFailsOnlyWhereKnown) {
  SKIP_UNLESS_THE_SUITE_CAN_RUN();
  TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  SuiteRun run = run_suite(dir.path(), "1", /*daemon=*/true, "test_raw");
  ASSERT_FALSE(run.outcome.empty()) << run.output;
  const std::set<std::string>& passed = run.passed;
  const std::set<std::string>& failed = run.failed;
  const std::set<std::string> expected_failures = raw_suite_failures(/*fallback=*/false);
  EXPECT_EQ(failed, expected_failures) << unexpected_failures(run, expected_failures) << run.output;
  EXPECT_GE(passed.size(), 75u);
  // Among what passes: the IOV and AEAD calls (through the daemon's Iov RPC), and MIT's krb5
  // extensions that inquire a context by OID (InquireSecContextByOid; the session key because
  // the suite's rule grants export_context).
  for (const char* test :
       {"TestWrapUnwrap.test_basic_iov_wrap_unwrap_autoalloc",
        "TestWrapUnwrap.test_basic_iov_wrap_unwrap_prealloc",
        "TestWrapUnwrap.test_basic_aead_wrap_unwrap", "TestWrapUnwrap.test_basic_verify_mic_iov",
        "TestBaseUtilities.test_inquire_sec_context_by_oid",
        "TestBaseUtilities.test_inquire_sec_context_by_oid_should_raise_error",
        "TestBaseUtilities.test_krb5_extract_authtime_from_sec_context",
        "TestBaseUtilities.test_krb5_extract_authz_data_from_sec_context",
        "TestBaseUtilities.test_krb5_get_tkt_flags",
        // A password acquires in the program (gssi_acquire_cred_with_password); the impersonator
        // of an S4U2Proxy credential is read in gssgated (InquireCredByOid); a credential option
        // is set there (SetCredOption).
        "TestBaseUtilities.test_acquire_cred_with_password",
        "TestBaseUtilities.test_add_cred_with_password",
        "TestBaseUtilities.test_inquire_cred_by_oid_impersonator",
        "TestBaseUtilities.test_set_cred_option"}) {
    EXPECT_EQ(run.outcome[test], "ok") << test;
  }
  // test_krb5_set_allowable_enctypes's options reached gssgated as the program set them: AES128
  // on the initiator's credential, AES256 alone on the acceptor's (whose accept the test requires
  // to fail), then both; and the second NO_CI_FLAGS option of test_set_cred_option.
  EXPECT_THAT(run.daemon_logs, HasSubstr("audit op=set_cred_option "));
  for (const char* set : {"oid=1.2.840.113554.1.2.2.5.4 enctypes=17 outcome=ok",
                          "oid=1.2.840.113554.1.2.2.5.4 enctypes=18 outcome=ok",
                          "oid=1.2.840.113554.1.2.2.5.4 enctypes=17,18 outcome=ok",
                          "oid=1.2.752.43.13.29 outcome=ok"}) {
    EXPECT_THAT(run.daemon_logs, HasSubstr(set)) << set;
  }
  EXPECT_THAT(run.output, Not(HasSubstr("Sanitizer")));
  EXPECT_THAT(run.daemon_logs, Not(HasSubstr("Sanitizer")));
}

}  // namespace
}  // namespace gssgate::testing
