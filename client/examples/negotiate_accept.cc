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
    // One call to gssgated, and no context left to release: all a web server needs. (A
    // mechanism that needs another round throws; a server then uses a SecurityContext and
    // answers 401 with its token.)
    gssgate::AcceptOnceResult accepted = gssgate::accept_once(*token);
    std::cout << "authenticated: " << accepted.initiator_name.str() << " (mech "
              << accepted.mech.dotted_form() << ")\n";
    if (accepted.token) {
      std::cout << "WWW-Authenticate: Negotiate " << example::base64_encode(*accepted.token)
                << "\n";
    }
    return 0;
  } catch (const gssgate::GSSError& e) {
    std::cerr << "GSSAPI error: " << e.what() << "\n";
  } catch (const std::exception& e) {
    std::cerr << e.what() << "\n";
  }
  return 1;
}
