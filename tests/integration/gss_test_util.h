#pragma once

// Shared set-up for the in-process GSSAPI tests: a fresh MiniKdc per test with a user `alice`
// (password and client keytab) and a service `HTTP/localhost` (service keytab), and helpers to
// acquire credentials and drive a handshake through lib/.

#include <sys/types.h>

#include <functional>
#include <memory>
#include <string>

#include "gtest/gtest.h"
#include "lib/gss/context.h"
#include "lib/gss/cred.h"
#include "lib/gss/name.h"
#include "tests/fixtures/mini_kdc.h"

namespace gssgate::testing {

inline constexpr char kAlicePassword[] = "alice-pw-1";

// Runs `body` in a forked child as `uid`/`gid` with no supplementary groups; the child's exit
// code (100: it could not change identity; 200: it did not exit normally).
int run_in_child_as(uid_t uid, gid_t gid, const std::function<int()>& body);

// gtest printing for statuses in assertion messages.
std::string describe(const gss::GssStatus& status);

class RealmTest : public ::testing::Test {
 protected:
  void SetUp() override;

  gss::NameHandle name(const std::string& text, const gss::Oid& type);
  std::string display(const gss::NameHandle& name);
  gss::NameHandle service_name() {
    return name("HTTP@localhost", gss::oids::nt_hostbased_service());
  }
  std::string alice() const { return kdc_->qualify("alice"); }
  std::string service_principal() const { return kdc_->qualify("HTTP/localhost"); }

  // Acceptor credentials for HTTP@localhost from `keytab` (default: the service keytab).
  gss::AcquiredCred acceptor_creds(const std::string& keytab = "");
  // Initiator credentials for alice from the client keytab, into a fresh MEMORY ccache.
  gss::AcquiredCred initiator_creds_from_client_keytab();

  std::unique_ptr<MiniKdc> kdc_;
  std::string service_keytab_;
  std::string client_keytab_;
};

struct Handshake {
  gss::ContextHandle initiator;
  gss::ContextHandle acceptor;
  gss::InitSecContextResult init;
  gss::AcceptSecContextResult accept;
};

// Steps init and accept until both are complete (at most 8 rounds). Returns the first failing
// status, or the acceptor's final status.
gss::GssStatus run_handshake(const gss::InitSecContextRequest& init_request,
                             const gss::AcceptSecContextRequest& accept_request, Handshake* out);

}  // namespace gssgate::testing
