// gssgate-inproc-demo: a full Kerberos handshake and per-message protection in one process, through
// lib/ (gssgate::gss), on the realm its environment names (KRB5_CONFIG, e.g. from deploy/sandbox).
//
//   gssgate-inproc-demo --client PRINC --client-keytab PATH --service NAME --service-keytab PATH
//
// This is the baseline the daemon is measured against; once gssgated serves the same calls the
// sandbox runs them through it instead. Exit code 0 on success, 1 on a GSSAPI failure (printed with
// MIT's text), 2 on a usage error.

#include <cstdio>
#include <iostream>
#include <string>

#include "absl/strings/str_cat.h"
#include "lib/gss/context.h"
#include "lib/gss/cred.h"
#include "lib/gss/name.h"

namespace {

namespace gss = gssgate::gss;

struct Args {
  std::string client;
  std::string client_keytab;
  std::string service = "HTTP@localhost";
  std::string service_keytab;
};

int usage(const std::string& why) {
  std::cerr << "gssgate-inproc-demo: " << why
            << "\nusage: gssgate-inproc-demo --client PRINC --client-keytab PATH"
               " [--service NAME] --service-keytab PATH\n";
  return 2;
}

bool ok(const gss::GssStatus& s) {
  if (!s.ok()) std::cerr << "FAILED " << s.message() << "\n";
  return s.ok();
}

std::string shown(const gss::NameHandle& name) {
  gss::DisplayedName d;
  return gss::display_name(name, &d).ok() ? d.text : "<unknown>";
}

std::string mech_name(const gss::Oid& mech) {
  return mech == gss::oids::krb5() ? mech.dotted() + " (krb5)" : mech.dotted();
}

}  // namespace

int main(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (i + 1 >= argc) return usage("missing value after " + arg);
    std::string v = argv[++i];
    if (arg == "--client")
      a.client = v;
    else if (arg == "--client-keytab")
      a.client_keytab = v;
    else if (arg == "--service")
      a.service = v;
    else if (arg == "--service-keytab")
      a.service_keytab = v;
    else
      return usage("unknown option " + arg);
  }
  if (a.client.empty() || a.client_keytab.empty() || a.service_keytab.empty()) {
    return usage("--client, --client-keytab and --service-keytab are required");
  }

  gss::NameHandle client_name, service_name;
  if (!ok(gss::import_name(a.client, gss::oids::nt_krb5_principal_name(), &client_name)) ||
      !ok(gss::import_name(a.service, gss::oids::nt_hostbased_service(), &service_name))) {
    return 1;
  }

  gss::AcquireCredRequest ini_req;
  ini_req.desired_name = &client_name;
  ini_req.usage = gss::CredUsage::kInitiate;
  ini_req.store.add("client_keytab", a.client_keytab).add("ccache", "MEMORY:gssgate-demo");
  gss::AcquiredCred ini;
  if (!ok(gss::acquire_cred(ini_req, &ini))) return 1;

  gss::AcquireCredRequest acc_req;
  acc_req.desired_name = &service_name;
  acc_req.usage = gss::CredUsage::kAccept;
  acc_req.store.add("keytab", a.service_keytab);
  gss::AcquiredCred acc;
  if (!ok(gss::acquire_cred(acc_req, &acc))) return 1;
  std::cout << "initiator credentials: " << a.client << " from client keytab " << a.client_keytab
            << "\nacceptor credentials:  " << a.service << " from keytab " << a.service_keytab
            << "\n";

  gss::ContextHandle ini_ctx, acc_ctx;
  gss::InitSecContextRequest init;
  init.cred = &ini.cred;
  init.target = &service_name;
  init.mech = gss::oids::krb5();
  init.flags = gss::kDefaultInitFlags | gss::Flag::kReplay | gss::Flag::kConfidentiality |
               gss::Flag::kIntegrity;
  gss::InitSecContextResult init_out;
  gss::GssStatus s = gss::init_sec_context(&ini_ctx, init, &init_out);
  if (!ok(s)) return 1;
  std::cout << "handshake: initiator -> " << init_out.output_token.size()
            << "-byte token (AP-REQ)\n";

  gss::AcceptSecContextRequest accept;
  accept.cred = &acc.cred;
  accept.input_token = init_out.output_token;
  gss::AcceptSecContextResult accept_out;
  if (!ok(gss::accept_sec_context(&acc_ctx, accept, &accept_out))) return 1;
  std::cout << "handshake: acceptor  -> " << accept_out.output_token.size()
            << "-byte token (AP-REP, mutual authentication)\n";

  init.input_token = accept_out.output_token;
  s = gss::init_sec_context(&ini_ctx, init, &init_out);
  if (!ok(s)) return 1;
  if (s.continue_needed()) {
    std::cerr << "FAILED: the initiator wants another round after the AP-REP\n";
    return 1;
  }

  gss::ContextInfo ini_info, acc_info;
  if (!ok(gss::inquire_context(ini_ctx, &ini_info)) ||
      !ok(gss::inquire_context(acc_ctx, &acc_info))) {
    return 1;
  }
  std::cout << "established, mech " << mech_name(acc_info.mech) << "\n"
            << "  initiator sees: " << shown(ini_info.initiator_name) << " -> "
            << shown(ini_info.target_name) << ", flags " << ini_info.flags.to_string()
            << ", lifetime " << ini_info.lifetime << " s\n"
            << "  acceptor sees:  " << shown(acc_info.initiator_name) << " -> "
            << shown(acc_info.target_name) << ", flags " << acc_info.flags.to_string()
            << ", lifetime " << acc_info.lifetime << " s\n";

  const std::string message = "hello from the gssgate sandbox";
  gss::WrapResult wrapped;
  gss::UnwrapResult unwrapped;
  if (!ok(gss::wrap(ini_ctx, message, true, GSS_C_QOP_DEFAULT, &wrapped)) ||
      !ok(gss::unwrap(acc_ctx, wrapped.token, &unwrapped))) {
    return 1;
  }
  std::cout << "wrap:   " << message.size() << "-byte message -> " << wrapped.token.size()
            << "-byte token (" << (wrapped.encrypted ? "encrypted" : "integrity only") << ")\n"
            << "unwrap: " << unwrapped.message.size() << " bytes, "
            << (unwrapped.message == message ? "identical" : "DIFFERENT") << "\n";
  std::string mic;
  if (!ok(gss::get_mic(acc_ctx, message, GSS_C_QOP_DEFAULT, &mic)) ||
      !ok(gss::verify_mic(ini_ctx, message, mic, nullptr))) {
    return 1;
  }
  std::cout << "mic:    " << mic.size()
            << "-byte MIC from the acceptor, verified by the initiator\n";
  return unwrapped.message == message ? 0 : 1;
}
