// gssgate-negotiate-accept: what a web service does with an "Authorization: Negotiate …" header —
// accepts the SPNEGO token with the service keys only gssgated can read, and prints the
// authenticated principal and the mutual-authentication reply header.
//
//   gssgate-negotiate-accept 'Negotiate YIIC…'     (or the whole "Authorization: …" line)
//
// The daemon's socket comes from $GSSGATE_SOCKET (default /run/gssgate/gssgate.sock).
// Exit code 0 when authenticated; 1 with the reason on stderr.

#include <iostream>
#include <string>

#include "base64.h"
#include "gssgate/gssgate.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: gssgate-negotiate-accept 'Negotiate <base64>'\n";
    return 2;
  }
  std::string header = argv[1];
  size_t at = header.find("Negotiate ");
  if (at == std::string::npos) {
    std::cerr << "not a Negotiate header\n";
    return 1;
  }
  std::optional<std::string> token = example::base64_decode(header.substr(at + 10));
  if (!token) {
    std::cerr << "the Negotiate token is not base64\n";
    return 1;
  }
  try {
    gssgate::SecurityContext ctx({.usage = "accept"});
    std::optional<std::string> reply = ctx.step(*token);
    if (!ctx.complete()) {
      std::cerr << "the handshake needs another round; HTTP would answer 401 with the token\n";
      return 1;
    }
    std::cout << "authenticated: " << ctx.initiator_name().str() << " (mech "
              << ctx.mech().dotted_form() << ")\n";
    if (reply) std::cout << "WWW-Authenticate: Negotiate " << example::base64_encode(*reply) << "\n";
    return 0;
  } catch (const gssgate::GSSError& e) {
    std::cerr << "GSSAPI error: " << e.what() << "\n";
  } catch (const std::exception& e) {
    std::cerr << e.what() << "\n";
  }
  return 1;
}
