// Links against an installed libgssgate. With a daemon socket it runs a full mutual-auth
// handshake (initiator and acceptor both through the daemon) and a wrap/unwrap; with a second,
// unused socket path it also checks the ConnectionError a caller gets where no daemon runs.
// Prints "consumer ok" on success.
//
//   consumer DAEMON_SOCKET [MISSING_SOCKET]

#include <gssgate/gssgate.h>

#include <iostream>

int main(int argc, char** argv) {
  if (argc < 2) return 2;
  auto conn = std::make_shared<gssgate::Connection>(
      gssgate::ConnectionOptions{.socket = argv[1], .timeout = std::chrono::seconds(20)});
  gssgate::Name target("HTTP@localhost", gssgate::NameType::hostbased_service(), conn);
  gssgate::SecurityContext client({.name = target, .connection = conn});
  gssgate::SecurityContext server({.connection = conn});
  std::optional<std::string> token = client.step();
  while (token && !(client.complete() && server.complete())) {
    token = server.step(*token);
    if (token && !client.complete()) token = client.step(*token);
  }
  if (!client.complete() || !server.complete()) return 1;
  const std::string reply = server.decrypt(client.encrypt("installed consumer"));
  std::cout << "handshake: " << server.initiator_name().str() << " -> " << target.str()
            << "; unwrap: " << reply << "\n";
  if (reply != "installed consumer") return 1;
  if (argc > 2) {
    auto nowhere = std::make_shared<gssgate::Connection>(
        gssgate::ConnectionOptions{.socket = argv[2], .timeout = std::chrono::seconds(5)});
    try {
      gssgate::Name name("HTTP@localhost", gssgate::NameType::hostbased_service(), nowhere);
      std::cerr << "reached a daemon at " << argv[2] << "?\n";
      return 1;
    } catch (const gssgate::ConnectionError& e) {
      std::cout << "ConnectionError: " << e.what() << "\n";
    }
  }
  std::cout << "consumer ok\n";
  return 0;
}
