#pragma once

/// @file
/// gssgate::Name — python-gssapi's gssapi.Name. Names travel by value: constructing one asks the
/// daemon to import it (so a malformed name fails here, as in python), and a mechanism name is
/// carried as its composite exported token, so its attributes (RFC 6680) travel with it.

#include <cstddef>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "gssgate/connection.h"
#include "gssgate/types.h"

namespace gssgate {

class Name;

/// One name attribute (python: the GetNameAttributeResult that name.attributes[key] returns).
struct GetNameAttributeResult {
  std::set<std::string> values;
  std::set<std::string> display_values;
  bool authenticated = false;
  bool complete = false;
};

/// python's name.attributes: a map-like view of a name's RFC 6680 attributes, read from and
/// changed through the daemon. It refers to its Name, which must outlive it; a view of a const
/// Name can only read (set() and erase() throw std::logic_error). Keys are text in the name
/// encoding (set_encoding()), as python encodes str keys.
///
/// MIT krb5 1.20 as Debian ships it: an accepted initiator's name carries its PAC
/// ("urn:mspac:" and one attribute per PAC buffer, authenticated); setting or deleting an
/// attribute needs an authdata plugin that accepts it, and Debian ships none, so set() and erase()
/// raise OperationUnavailableError there.
class NameAttributes {
 public:
  /// python: attributes[key]. Throws GSSError (MIT: OperationUnavailableError for a name without
  /// that attribute).
  GetNameAttributeResult operator[](std::string_view attribute) const;
  /// True if the name carries `attribute` (from the names the daemon lists, never by a failed get).
  bool contains(std::string_view attribute) const;
  /// python: list(attributes).
  std::vector<std::string> keys() const;
  /// python: len(attributes).
  std::size_t size() const { return keys().size(); }

  /// python: attributes[key] = (values, complete). Updates the viewed Name.
  void set(std::string_view attribute, const std::set<std::string>& values, bool complete = false);
  /// python: attributes[key] = value (a single value).
  void set(std::string_view attribute, std::string_view value, bool complete = false);
  /// python: del attributes[key]. Updates the viewed Name.
  void erase(std::string_view attribute);

  /// Iterates over the attribute names as listed when begin() is called. The iterator owns that
  /// snapshot (it stays valid whatever happens to the view); end() is a sentinel.
  class Iterator;
  struct End {};
  Iterator begin() const;
  End end() const { return {}; }

 private:
  friend class Name;
  NameAttributes(const Name* name, Name* mutable_name) : name_(name), mutable_name_(mutable_name) {}
  Name& writable() const;
  const Name* name_;
  Name* mutable_name_;  // null for a view of a const Name
};

class NameAttributes::Iterator {
 public:
  using value_type = std::string;
  using difference_type = std::ptrdiff_t;
  explicit Iterator(std::shared_ptr<const std::vector<std::string>> keys)
      : keys_(std::move(keys)) {}
  const std::string& operator*() const { return (*keys_)[at_]; }
  Iterator& operator++() {
    ++at_;
    return *this;
  }
  friend bool operator==(const Iterator& it, End) { return it.at_ >= it.keys_->size(); }

 private:
  std::shared_ptr<const std::vector<std::string>> keys_;
  std::size_t at_ = 0;
};

class Name {
 public:
  /// Imports the text `base` with `name_type` (nullopt: the mechanism's default syntax). The text
  /// is converted to the current encoding first (set_encoding(); UTF-8 by default).
  /// Throws BadNameError / BadNameTypeError (GSSError), ConnectionError, PermissionDenied, and
  /// std::invalid_argument if the text cannot be converted.
  explicit Name(std::string_view base, std::optional<OID> name_type = std::nullopt,
                std::shared_ptr<Connection> connection = nullptr);
  /// Imports raw bytes without any conversion (python: Name(base=b"…")).
  static Name from_bytes(std::string_view base, std::optional<OID> name_type = std::nullopt,
                         std::shared_ptr<Connection> connection = nullptr);
  /// Imports an exported-name token (python: Name(token=…, composite=…)); `composite` for a token
  /// from export_name(true). A composite token with attributes imports only as gssgated issued
  /// it (sealed, to the same uid, rule and cgroup, by the same daemon run): the daemon never
  /// parses authorization data a caller made (InvalidTokenError for any other composite token
  /// but MIT's with an empty attribute section, which is the name alone).
  static Name from_token(std::string_view token, bool composite = false,
                         std::shared_ptr<Connection> connection = nullptr);

  /// The displayed name as text in the current encoding's reading (python: str(name)).
  std::string str() const;
  /// The displayed name as GSSAPI gives it (python: bytes(name)).
  const std::string& bytes() const { return display_; }
  /// The name type the displayed form is in (python: name.name_type).
  std::optional<OID> name_type() const;
  /// The name in the syntax of `name_type` (python: display_as; RFC 6680 gss_display_name_ext).
  /// MIT's krb5 has no display_name_ext of its own: its mechglue answers only when `name_type` is
  /// the type the name was created with (for a canonicalized name: its source's; for a context's
  /// peer: its display type), with the plain display text, else OperationUnavailableError. A
  /// mechanism name reaches the daemon as a token, so that rule is applied here, to give what
  /// python-gssapi gives in-process.
  std::string display_as(const OID& name_type) const;
  /// The exported-name token (python: export(composite)); `composite` includes the attributes.
  /// The name must be a mechanism name; throws MechanismNameRequiredError otherwise. The plain
  /// token is RFC 2743's, for any peer; the composite one is MIT's (RFC 6680), sealed by gssgated
  /// ("GGS1…") when the name has attributes, so that it imports into this daemon only
  /// (from_token), as python's round trip does. Without attributes it is MIT's token as is.
  std::string export_name(bool composite = false) const;
  /// The mechanism name for `mech` (python: name.canonicalize(mech)).
  Name canonicalize(const OID& mech) const;
  /// True for a mechanism name (canonicalized, or a context's peer) — RFC 6680 gss_inquire_name.
  bool is_mech_name() const;
  /// The mechanism of a mechanism name; nullopt for any other name (python: None).
  std::optional<OID> mech() const;
  /// The name's attributes (python: name.attributes).
  NameAttributes attributes() { return NameAttributes(this, this); }
  const NameAttributes attributes() const { return NameAttributes(this, nullptr); }

  /// gss_compare_name through the daemon.
  bool operator==(const Name& other) const;
  bool operator!=(const Name& other) const { return !(*this == other); }

  const std::shared_ptr<Connection>& connection() const { return connection_; }

 private:
  friend struct NameAccess;
  friend class NameAttributes;
  Name() = default;
  static Name import(std::string value, std::optional<OID> name_type,
                     std::shared_ptr<Connection> connection);
  std::shared_ptr<Connection> connection_;
  std::string value_;       // as imported (printable bytes, or an exported token)
  std::string value_type_;  // DER of value_'s name type; empty for the default
  std::string display_;
  std::string display_type_;
  std::string source_type_;  // DER of the type the name was created with (see display_as)
};

}  // namespace gssgate
