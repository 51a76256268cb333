// Fuzz target: the token paths a caller can feed the daemon (accept, unwrap, verify, import of
// contexts, names and credentials), through the real handlers of an in-process daemon whose
// recorded acceptor context matches the seed tokens. Input: see fuzz_tokens.h.

#include "tests/fuzz/fuzz_tokens.h"

#include <cstddef>
#include <cstdint>
#include <string>

#include "daemon/replay_cache.h"
#include "lib/gss/oid.h"
#include "tests/fuzz/fuzz_daemon.h"

namespace gssgate::fuzz {
namespace {

void run_op(FuzzDaemon& daemon, TokenOp op, const std::string& token) {
  switch (op) {
    case kAccept: {
      // The replay cache's AP-REQ search (daemon/replay_cache.h) on the same bytes: the daemon
      // here runs without it, since the recorded tokens are replayed on purpose.
      (void)daemon::authenticator_tags(token);
      v1::AcceptSecContextRequest request;
      request.set_creds(daemon.acceptor_creds());
      request.set_input_token(token);
      v1::AcceptSecContextReply reply;
      (void)daemon.run(&Service::AcceptSecContext, request, &reply);
      return;
    }
    case kUnwrap: {
      v1::UnwrapRequest request;
      request.set_context(daemon.context());
      request.set_token(token);
      v1::UnwrapReply reply;
      (void)daemon.run(&Service::Unwrap, request, &reply);
      return;
    }
    case kVerifyMic: {
      v1::VerifyMicRequest request;
      request.set_context(daemon.context());
      request.set_message(kMicMessage);
      request.set_mic(token);
      v1::VerifyMicReply reply;
      (void)daemon.run(&Service::VerifyMic, request, &reply);
      return;
    }
    case kImportContext: {
      v1::ImportContextRequest request;
      request.set_token(token);
      v1::ImportContextReply reply;
      (void)daemon.run(&Service::ImportContext, request, &reply);
      return;
    }
    case kImportExportName:
    case kImportCompositeName: {
      v1::ImportNameRequest request;
      request.mutable_name()->set_value(token);
      request.mutable_name()->set_name_type(op == kImportExportName
                                                ? gss::oids::nt_export_name().der()
                                                : gss::oids::nt_composite_export().der());
      v1::ImportNameReply reply;
      if (!daemon.run(&Service::ImportName, request, &reply).ok()) return;
      // What a caller does next with a name: display it and read its attributes.
      v1::InquireNameRequest inquire;
      *inquire.mutable_name() = reply.name();
      v1::InquireNameReply inquired;
      (void)daemon.run(&Service::InquireName, inquire, &inquired);
      for (const std::string& attribute : inquired.attributes()) {
        v1::GetNameAttributeRequest get;
        *get.mutable_name() = reply.name();
        get.set_attribute(attribute);
        v1::GetNameAttributeReply got;
        (void)daemon.run(&Service::GetNameAttribute, get, &got);
      }
      return;
    }
    case kImportCred: {
      v1::ImportCredRequest request;
      request.set_token(token);
      v1::ImportCredReply reply;
      (void)daemon.run(&Service::ImportCred, request, &reply);
      return;
    }
    case kProcessContextToken: {
      v1::ProcessContextTokenRequest request;
      request.set_context(daemon.context());
      request.set_token(token);
      v1::ProcessContextTokenReply reply;
      (void)daemon.run(&Service::ProcessContextToken, request, &reply);
      return;
    }
    case kTokenOpCount:
      return;
  }
}

}  // namespace
}  // namespace gssgate::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace gssgate::fuzz;
  if (size < 1) return 0;
  FuzzDaemon& daemon = FuzzDaemon::instance();
  daemon.begin_input();
  run_op(daemon, static_cast<TokenOp>(data[0] % kTokenOpCount),
         std::string(reinterpret_cast<const char*>(data) + 1, size - 1));
  daemon.end_input();
  return 0;
}
