// gssgate-negotiate-initiate: prints the HTTP "Authorization: Negotiate …" header (RFC 4559,
// SPNEGO) a client sends to SERVICE@HOST, using the Kerberos identity gssgated's policy grants the
// calling user — the program never sees a keytab or a ticket.
//
//   gssgate-negotiate-initiate HTTP@www.example.com
//
// The daemon's socket comes from $GSSGATE_SOCKET (default /run/gssgate/gssgate.sock).
// Exit code 0 with the header on stdout; 1 with the reason on stderr.

#include <iostream>

#include "base64.h"
#include "gssgate/gssgate.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: gssgate-negotiate-initiate SERVICE@HOST\n";
    return 2;
  }
  try {
    gssgate::Name target(argv[1], gssgate::NameType::hostbased_service());
    gssgate::SecurityContext ctx({.name = target, .mech = gssgate::MechType::spnego()});
    std::optional<std::string> token = ctx.step();
    if (!token) {
      std::cerr << "no token produced\n";
      return 1;
    }
    std::cout << "Authorization: Negotiate " << example::base64_encode(*token) << "\n";
    return 0;
  } catch (const gssgate::GSSError& e) {
    std::cerr << "GSSAPI error: " << e.what() << "\n";
  } catch (const std::exception& e) {
    std::cerr << e.what() << "\n";
  }
  return 1;
}
