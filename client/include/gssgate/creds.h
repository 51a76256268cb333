#pragma once

/// @file
/// gssgate::Credentials — python-gssapi's gssapi.Credentials. The credentials live in gssgated;
/// this object holds their handle (shared by copies, released when the last copy goes).

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>

#include "gssgate/connection.h"
#include "gssgate/names.h"
#include "gssgate/types.h"

namespace gssgate {

class Credentials;

struct CredentialsOptions {
  std::optional<Name> name;          ///< nullopt: the default principal of the granted store
  std::optional<uint32_t> lifetime;  ///< seconds; nullopt: as long as possible
  std::set<OID> mechs;               ///< empty: the default set
  std::string usage = "both";        ///< "both", "initiate" or "accept"
  /// Credential-store elements; the daemon accepts only what the caller's policy rule grants.
  std::map<std::string, std::string> store;
  std::shared_ptr<Connection> connection;  ///< null: Connection::shared_default()
};

struct AcquireCredResult;

struct InquireCredResult {
  std::optional<Name> name;
  std::optional<uint32_t> lifetime;  ///< nullopt: indefinite
  std::optional<std::string> usage;
  std::optional<std::set<OID>> mechs;
};

struct InquireCredByMechResult {
  std::optional<Name> name;
  std::optional<uint32_t> init_lifetime;    ///< nullopt: indefinite, or not selected
  std::optional<uint32_t> accept_lifetime;  ///< nullopt: indefinite, or not selected
  std::optional<std::string> usage;
};

/// python: store(store=None, usage="both", mech=None, overwrite=False, set_default=False).
struct StoreCredOptions {
  /// Empty: the caller's ccache (the rule's `ccache`, else the caller's private cache in the
  /// daemon, where later initiator acquisitions find the credentials). Otherwise it may only name
  /// that same ccache ({"ccache", …}); anything else is PermissionDenied.
  std::map<std::string, std::string> store;
  std::string usage = "both";
  std::optional<OID> mech;  ///< nullopt: every mechanism of the credentials
  bool overwrite = false;
  bool set_default = false;
};

/// python: StoreCredResult(mechs, usage).
struct StoreCredResult {
  std::set<OID> mechs;
  std::string usage;
};

struct AddCredOptions;

class Credentials {
 public:
  /// Acquires credentials (python: Credentials(name=…, usage=…, …)).
  /// Throws UnknownUsageError for a usage other than both/initiate/accept, GSSError on a GSSAPI
  /// failure, PermissionDenied when policy refuses, ConnectionError.
  explicit Credentials(const CredentialsOptions& options = {});
  /// Imports a token from export_creds() (python: Credentials(token=…)). Only the daemon that
  /// exported it can import it. Throws InvalidTokenError for any other token.
  static Credentials from_token(std::string_view token,
                                std::shared_ptr<Connection> connection = nullptr);
  /// Acquires and also reports the mechanisms and lifetime (python: Credentials.acquire).
  static AcquireCredResult acquire(const CredentialsOptions& options = {});
  /// No credentials (python: Credentials(gssapi.raw.Creds())): the start for add(), and "the
  /// default credentials" where a context takes credentials. Asking it anything else raises
  /// MissingCredentialsError.
  static Credentials empty(std::shared_ptr<Connection> connection = nullptr);

  /// The credentials' name; nullopt where python-gssapi returns None: credentials GSSAPI names
  /// no principal for (an acceptor whose keytab MIT finds no principal in). An acceptor from a
  /// keytab is named, as with MIT in-process, by the keytab's first principal.
  std::optional<Name> name() const;
  /// Seconds left; nullopt when indefinite.
  std::optional<uint32_t> lifetime() const;
  std::set<OID> mechs() const;
  /// "initiate", "accept" or "both".
  std::string usage() const;
  /// python: inquire(name=True, lifetime=True, usage=True, mechs=True); unselected fields stay
  /// nullopt.
  InquireCredResult inquire(bool name = true, bool lifetime = true, bool usage = true,
                            bool mechs = true) const;

  /// The credentials as an opaque token sealed by the daemon (python: export()); needs policy
  /// (export_creds = true). The keys inside never leave the daemon unencrypted.
  std::string export_creds() const;

  /// S4U2Self (python: impersonate(name, lifetime, mechs, usage)): credentials for `name`
  /// obtained with these (initiator) credentials. Needs policy (impersonate = true) and a KDC
  /// that allows it.
  Credentials impersonate(const Name& name, std::optional<uint32_t> lifetime = std::nullopt,
                          const std::set<OID>& mechs = {},
                          const std::string& usage = "initiate") const;

  /// python: inquire_by_mech(mech, name=True, init_lifetime=True, accept_lifetime=True,
  /// usage=True).
  InquireCredByMechResult inquire_by_mech(const OID& mech, bool name = true,
                                          bool init_lifetime = true, bool accept_lifetime = true,
                                          bool usage = true) const;

  /// python: add(name, mech, usage="both", init_lifetime=None, accept_lifetime=None,
  /// impersonator=None, store=None): new credentials holding these plus an element for `name`
  /// and `mech`; these stay as they are. With an impersonator the element comes from S4U2Self
  /// (policy: impersonate), else from the caller's granted stores (as acquire()). Throws
  /// std::invalid_argument for both store and impersonator (python's ValueError), GSSError (e.g.
  /// DuplicateElementError when these already have `mech`), PermissionDenied.
  Credentials add(const Name& name, const OID& mech) const;
  Credentials add(const Name& name, const OID& mech, const AddCredOptions& options) const;

  /// python: store(…) — RFC 5588 gss_store_cred_into the caller's ccache. Needs policy
  /// (store_creds = true).
  StoreCredResult store(const StoreCredOptions& options = {}) const;

  const std::shared_ptr<Connection>& connection() const;

 private:
  friend struct CredentialsAccess;
  struct Handle;
  struct AdoptTag {};
  explicit Credentials(AdoptTag) {}
  // The daemon handle; raises MissingCredentialsError for empty() credentials.
  const std::string& id() const;
  std::shared_ptr<Handle> handle_;
};

/// python's keyword arguments of Credentials.add.
struct AddCredOptions {
  std::string usage = "both";
  std::optional<uint32_t> init_lifetime;    ///< nullopt: as long as possible
  std::optional<uint32_t> accept_lifetime;  ///< nullopt: as long as possible
  std::optional<Credentials> impersonator;
  std::map<std::string, std::string> store;
};

struct AcquireCredResult {
  Credentials creds;
  std::set<OID> mechs;
  std::optional<uint32_t> lifetime;
};

}  // namespace gssgate
