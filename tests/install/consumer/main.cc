// Links against an installed libgssgate and exercises it without a daemon: OIDs, flags, and the
// ConnectionError a caller gets when gssgated is not there. Prints "consumer ok" on success.

#include <gssgate/gssgate.h>

#include <iostream>

int main(int argc, char** argv) {
  if (argc != 2) return 2;
  if (gssgate::MechType::kerberos().dotted_form() != "1.2.840.113554.1.2.2") return 1;
  gssgate::RequirementFlagSet flags{gssgate::RequirementFlag::mutual_authentication};
  if (!flags.contains(gssgate::RequirementFlag::mutual_authentication)) return 1;
  auto nowhere = std::make_shared<gssgate::Connection>(
      gssgate::ConnectionOptions{.socket = argv[1], .timeout = std::chrono::seconds(5)});
  try {
    gssgate::Name name("HTTP@localhost", gssgate::NameType::hostbased_service(), nowhere);
    std::cerr << "reached a daemon at " << argv[1] << "?\n";
    return 1;
  } catch (const gssgate::ConnectionError& e) {
    std::cout << "ConnectionError: " << e.what() << "\n";
  }
  std::cout << "consumer ok\n";
  return 0;
}
