// gssgate-demo: what an unprivileged service does with gssgated, through libgssgate — a full
// mutual-auth Kerberos handshake (initiator and acceptor both in the daemon, neither able to read a
// keytab), then wrap/unwrap and a MIC, printing names, flags, lifetimes and sizes.
//
//   gssgate-demo [--target HTTP@localhost]
//
// The socket comes from $GSSGATE_SOCKET. Run it as the user the policy grants
// (deploy/sandbox/sandbox.sh uses `nobody`). Exit code 0 on success, 1 on any failure.

#include <unistd.h>

#include <iostream>
#include <string>

#include "gssgate/gssgate.h"

namespace {

std::string flags(const gssgate::RequirementFlagSet& set) {
  std::string out;
  for (gssgate::RequirementFlag f : set.members()) {
    out += (out.empty() ? "" : "|") + std::string(gssgate::to_string(f));
  }
  return out;
}

int run(const std::string& target_text) {
  using namespace gssgate;  // NOLINT: a demo
  auto conn = Connection::shared_default();
  std::cout << "caller: uid " << getuid() << ", gid " << getgid() << ", daemon at "
            << conn->socket() << " ("
            << (conn->transport() == Transport::kWire ? "wire transport" : "gRPC") << ")\n";
  {
    Name target(target_text, NameType::hostbased_service());
    SecurityContext client({.name = target,
                            .flags = RequirementFlagSet{RequirementFlag::mutual_authentication,
                                                        RequirementFlag::replay_detection,
                                                        RequirementFlag::out_of_sequence_detection,
                                                        RequirementFlag::confidentiality,
                                                        RequirementFlag::integrity}});
    SecurityContext server({.usage = "accept"});

    std::optional<std::string> token = client.step();
    std::cout << "init:   " << token->size() << "-byte token (AP-REQ) for " << target.str() << "\n";
    token = server.step(*token);
    std::cout << "accept: initiator " << server.initiator_name().str() << ", " << token->size()
              << "-byte token (AP-REP), flags " << flags(server.actual_flags()) << "\n";
    client.step(*token);
    if (!client.complete() || !server.complete()) {
      std::cerr << "FAILED: the handshake did not complete in one round trip\n";
      return 1;
    }
    std::cout << "established (mutual): " << client.initiator_name().str() << " -> "
              << client.target_name().str() << ", mech " << client.mech().dotted_form()
              << ", flags " << flags(client.actual_flags()) << ", lifetime "
              << client.lifetime().value_or(0) << " s\n";

    const std::string message = "hello through gssgated";
    WrapResult wrapped = client.wrap(message, true);
    UnwrapResult unwrapped = server.unwrap(wrapped.message);
    std::cout << "wrap:   " << message.size() << "-byte message -> " << wrapped.message.size()
              << "-byte token (" << (wrapped.encrypted ? "encrypted" : "integrity only") << ")\n"
              << "unwrap: " << unwrapped.message.size() << " bytes, "
              << (unwrapped.message == message ? "identical" : "DIFFERENT") << "\n";
    std::string mic = server.get_signature(message);
    client.verify_signature(message, mic);
    std::cout << "mic:    " << mic.size()
              << "-byte MIC from the acceptor, verified by the initiator\n";
    if (unwrapped.message != message) return 1;
  }
  std::cout << "both contexts deleted; " << conn->calls() << " calls to gssgated in all\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::string target = "HTTP@localhost";
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::string(argv[i]) == "--target") target = argv[i + 1];
  }
  try {
    return run(target);
  } catch (const std::exception& e) {
    std::cerr << "FAILED: " << e.what() << "\n";
    return 1;
  }
}
