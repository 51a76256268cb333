#pragma once

/// @file
/// gssgate::Name — python-gssapi's gssapi.Name. Names travel by value: constructing one asks the
/// daemon to import it (so a malformed name fails here, as in python), and a mechanism name is
/// carried as its exported token.

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "gssgate/connection.h"
#include "gssgate/types.h"

namespace gssgate {

class Name {
 public:
  /// Imports `base` with `name_type` (nullopt: the mechanism's default syntax).
  /// Throws BadNameError / BadNameTypeError (GSSError), ConnectionError, PermissionDenied.
  explicit Name(std::string_view base, std::optional<OID> name_type = std::nullopt,
                std::shared_ptr<Connection> connection = nullptr);
  /// Imports an exported-name token (python: Name(token=…)). Composite tokens are not supported
  /// by the daemon yet (throws OperationUnavailableError).
  static Name from_token(std::string_view token, bool composite = false,
                         std::shared_ptr<Connection> connection = nullptr);

  /// The displayed name (python: str(name)).
  std::string str() const { return display_; }
  /// The name type the displayed form is in (python: name.name_type).
  std::optional<OID> name_type() const;
  /// The RFC 2743 exported-name token; the name must be a mechanism name.
  /// Throws MechanismNameRequiredError otherwise.
  std::string export_name(bool composite = false) const;
  /// The mechanism name for `mech` (python: name.canonicalize(mech)).
  Name canonicalize(const OID& mech) const;
  /// True for a mechanism name (canonicalized, or a context's peer).
  bool is_mech_name() const;
  /// The mechanism of a mechanism name; throws MechanismNameRequiredError otherwise.
  OID mech() const;

  /// gss_compare_name through the daemon.
  bool operator==(const Name& other) const;
  bool operator!=(const Name& other) const { return !(*this == other); }

  const std::shared_ptr<Connection>& connection() const { return connection_; }

 private:
  friend struct NameAccess;
  Name() = default;
  std::shared_ptr<Connection> connection_;
  std::string value_;       // as imported (printable text, or the exported token)
  std::string value_type_;  // DER of value_'s name type; empty for the default
  std::string display_;
  std::string display_type_;
};

}  // namespace gssgate
