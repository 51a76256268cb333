// gssgate-demo: what an unprivileged service does with gssgated — a full mutual-auth Kerberos
// handshake (initiator and acceptor both through the daemon, neither able to read a keytab),
// then wrap/unwrap and a MIC, printing names, flags, lifetimes and sizes.
//
//   gssgate-demo --socket PATH [--target HTTP@localhost]
//
// Run it as the user the policy grants (deploy/sandbox/sandbox.sh uses `nobody`). It speaks the
// wire API through the generated stub; once libgssgate lands it will use the client library.
// Exit code 0 on success, 1 on any failure (printed with the daemon's or MIT's text).

#include <grpcpp/grpcpp.h>
#include <unistd.h>

#include <iostream>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gssgate/v1/gssgate.grpc.pb.h"
#include "lib/gss/flags.h"
#include "lib/gss/oid.h"

namespace {

namespace v1 = gssgate::v1;
namespace gss = gssgate::gss;

std::unique_ptr<grpc::ClientContext> deadline() {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  return ctx;
}

// Prints a failure and returns false; true when both the RPC and GSSAPI succeeded.
bool ok(const char* what, const grpc::Status& rpc, const v1::GssStatus& gss) {
  if (!rpc.ok()) {
    std::cerr << "FAILED " << what << ": gRPC " << rpc.error_code() << ": " << rpc.error_message()
              << "\n";
    return false;
  }
  if ((gss.major() & 0xffff0000u) != 0) {
    std::cerr << "FAILED " << what << ": " << gss.operation() << ": "
              << absl::StrJoin(gss.major_text(), ", ") << "; "
              << absl::StrJoin(gss.minor_text(), ", ") << "\n";
    return false;
  }
  return true;
}

std::string flags(uint32_t bits) { return gss::Flags::from_bits(bits).to_string(); }

}  // namespace

int main(int argc, char** argv) {
  std::string socket = "/run/gssgate/gssgate.sock";
  std::string target = "HTTP@localhost";
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i];
    if (flag == "--socket")
      socket = argv[i + 1];
    else if (flag == "--target")
      target = argv[i + 1];
  }
  auto stub = v1::Gssgate::NewStub(
      grpc::CreateChannel("unix:" + socket, grpc::InsecureChannelCredentials()));
  std::cout << "caller: uid " << getuid() << ", gid " << getgid() << ", daemon at " << socket
            << "\n";

  // Initiator step 1: the daemon uses alice's client keytab (which we cannot read) for a TGT.
  v1::InitSecContextRequest init;
  init.mutable_target()->set_value(target);
  init.mutable_target()->set_name_type(gss::oids::nt_hostbased_service().der());
  init.set_flags((gss::kDefaultInitFlags | gss::Flag::kReplay | gss::Flag::kConfidentiality |
                  gss::Flag::kIntegrity)
                     .bits());
  v1::InitSecContextReply init_reply;
  grpc::Status s = stub->InitSecContext(deadline().get(), init, &init_reply);
  if (!ok("InitSecContext", s, init_reply.status())) return 1;
  std::cout << "init:   " << init_reply.output_token().size() << "-byte token (AP-REQ) for "
            << target << ", context handle " << init_reply.context().size() << " bytes\n";

  v1::AcceptSecContextRequest accept;
  accept.set_input_token(init_reply.output_token());
  v1::AcceptSecContextReply accept_reply;
  s = stub->AcceptSecContext(deadline().get(), accept, &accept_reply);
  if (!ok("AcceptSecContext", s, accept_reply.status())) return 1;
  std::cout << "accept: initiator " << accept_reply.initiator_name().display() << ", "
            << accept_reply.output_token().size() << "-byte token (AP-REP), flags "
            << flags(accept_reply.flags()) << ", lifetime " << accept_reply.lifetime() << " s\n";

  init.set_context(init_reply.context());
  init.set_input_token(accept_reply.output_token());
  s = stub->InitSecContext(deadline().get(), init, &init_reply);
  if (!ok("InitSecContext (step 2)", s, init_reply.status())) return 1;
  if (init_reply.continue_needed()) {
    std::cerr << "FAILED: the initiator wants another round after the AP-REP\n";
    return 1;
  }
  v1::InquireContextRequest inquire;
  inquire.set_context(init_reply.context());
  v1::InquireContextReply info;
  s = stub->InquireContext(deadline().get(), inquire, &info);
  if (!ok("InquireContext", s, info.status())) return 1;
  std::cout << "established (mutual): " << info.initiator_name().display() << " -> "
            << info.target_name().display() << ", mech "
            << gss::Oid::from_der(info.mech()).value_or(gss::Oid()).dotted() << ", flags "
            << flags(info.flags()) << ", lifetime " << info.lifetime() << " s\n";

  const std::string message = "hello through gssgated";
  v1::WrapRequest wrap;
  wrap.set_context(init_reply.context());
  wrap.set_message(message);
  wrap.set_encrypt(true);
  v1::WrapReply wrapped;
  s = stub->Wrap(deadline().get(), wrap, &wrapped);
  if (!ok("Wrap", s, wrapped.status())) return 1;
  v1::UnwrapRequest unwrap;
  unwrap.set_context(accept_reply.context());
  unwrap.set_token(wrapped.token());
  v1::UnwrapReply unwrapped;
  s = stub->Unwrap(deadline().get(), unwrap, &unwrapped);
  if (!ok("Unwrap", s, unwrapped.status())) return 1;
  std::cout << "wrap:   " << message.size() << "-byte message -> " << wrapped.token().size()
            << "-byte token (" << (wrapped.encrypted() ? "encrypted" : "integrity only") << ")\n"
            << "unwrap: " << unwrapped.message().size() << " bytes, "
            << (unwrapped.message() == message ? "identical" : "DIFFERENT") << "\n";

  v1::GetMicRequest mic_request;
  mic_request.set_context(accept_reply.context());
  mic_request.set_message(message);
  v1::GetMicReply mic;
  s = stub->GetMic(deadline().get(), mic_request, &mic);
  if (!ok("GetMic", s, mic.status())) return 1;
  v1::VerifyMicRequest verify;
  verify.set_context(init_reply.context());
  verify.set_message(message);
  verify.set_mic(mic.mic());
  v1::VerifyMicReply verified;
  s = stub->VerifyMic(deadline().get(), verify, &verified);
  if (!ok("VerifyMic", s, verified.status())) return 1;
  std::cout << "mic:    " << mic.mic().size()
            << "-byte MIC from the acceptor, verified by the initiator\n";

  for (const std::string& ctx : {init_reply.context(), accept_reply.context()}) {
    v1::DeleteSecContextRequest del;
    del.set_context(ctx);
    v1::DeleteSecContextReply deleted;
    s = stub->DeleteSecContext(deadline().get(), del, &deleted);
    if (!ok("DeleteSecContext", s, deleted.status())) return 1;
  }
  std::cout << "both contexts deleted\n";
  return unwrapped.message() == message ? 0 : 1;
}
