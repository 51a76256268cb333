#include "tests/integration/gss_test_util.h"

#include <grp.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace gssgate::testing {

int run_in_child_as(uid_t uid, gid_t gid, const std::function<int()>& body) {
  const pid_t pid = fork();
  if (pid == 0) {
    if (setgroups(0, nullptr) != 0 || setresgid(gid, gid, gid) != 0 ||
        setresuid(uid, uid, uid) != 0) {
      _exit(100);
    }
    _exit(body());
  }
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 200;
}

std::string describe(const gss::GssStatus& status) { return status.message(); }

void RealmTest::SetUp() {
  auto kdc = MiniKdc::start();
  ASSERT_TRUE(kdc.ok()) << kdc.status();
  kdc_ = std::move(*kdc);
  kdc_->export_env_to_process();
  ASSERT_TRUE(kdc_->add_principal_with_password("alice", kAlicePassword).ok());
  ASSERT_TRUE(kdc_->add_principal_with_random_key("HTTP/localhost").ok());
  service_keytab_ = kdc_->path("http.keytab");
  client_keytab_ = kdc_->path("alice.keytab");
  auto s = kdc_->export_keytab(service_keytab_, {"HTTP/localhost"});
  ASSERT_TRUE(s.ok()) << s;
  s = kdc_->export_keytab(client_keytab_, {"alice"});
  ASSERT_TRUE(s.ok()) << s;
}

gss::NameHandle RealmTest::name(const std::string& text, const gss::Oid& type) {
  gss::NameHandle out;
  gss::GssStatus s = gss::import_name(text, type, &out);
  EXPECT_TRUE(s.ok()) << describe(s);
  return out;
}

std::string RealmTest::display(const gss::NameHandle& n) {
  gss::DisplayedName out;
  gss::GssStatus s = gss::display_name(n, &out);
  EXPECT_TRUE(s.ok()) << describe(s);
  return out.text;
}

gss::AcquiredCred RealmTest::acceptor_creds(const std::string& keytab) {
  gss::NameHandle svc = service_name();
  gss::AcquireCredRequest request;
  request.desired_name = &svc;
  request.usage = gss::CredUsage::kAccept;
  request.store.add("keytab", keytab.empty() ? service_keytab_ : keytab);
  gss::AcquiredCred out;
  gss::GssStatus s = gss::acquire_cred(request, &out);
  EXPECT_TRUE(s.ok()) << describe(s);
  return out;
}

gss::AcquiredCred RealmTest::initiator_creds_from_client_keytab() {
  static std::atomic<int> counter{0};
  gss::NameHandle user = name(alice(), gss::oids::nt_krb5_principal_name());
  gss::AcquireCredRequest request;
  request.desired_name = &user;
  request.usage = gss::CredUsage::kInitiate;
  request.store.add("client_keytab", client_keytab_)
      .add("ccache", absl::StrCat("MEMORY:gssgate-test-", counter++));
  gss::AcquiredCred out;
  gss::GssStatus s = gss::acquire_cred(request, &out);
  EXPECT_TRUE(s.ok()) << describe(s);
  return out;
}

gss::GssStatus run_handshake(const gss::InitSecContextRequest& init_request,
                             const gss::AcceptSecContextRequest& accept_request, Handshake* out) {
  std::string token;
  bool init_done = false;
  bool accept_done = false;
  gss::GssStatus last;
  for (int round = 0; round < 8 && !(init_done && accept_done); ++round) {
    if (!init_done) {
      gss::InitSecContextRequest step = init_request;
      step.input_token = token;
      last = gss::init_sec_context(&out->initiator, step, &out->init);
      if (!last.ok()) return last;
      init_done = !last.continue_needed();
      token = out->init.output_token;
    }
    if (!accept_done && !token.empty()) {
      gss::AcceptSecContextRequest step = accept_request;
      step.input_token = token;
      last = gss::accept_sec_context(&out->acceptor, step, &out->accept);
      if (!last.ok()) return last;
      accept_done = !last.continue_needed();
      token = out->accept.output_token;
    } else if (init_done && token.empty()) {
      break;
    }
  }
  return last;
}

}  // namespace gssgate::testing
