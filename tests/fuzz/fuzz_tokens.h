#pragma once

// The operations of the fuzz_tokens target, shared with the seed tool that records inputs for them.
// Input: one byte choosing the operation (modulo kTokenOpCount), then the raw token.

#include <cstddef>

namespace gssgate::fuzz {

enum TokenOp : unsigned char {
  kAccept = 0,               // AcceptSecContext: a first token (krb5 AP-REQ or SPNEGO)
  kUnwrap = 1,               // Unwrap on the recorded acceptor context
  kVerifyMic = 2,            // VerifyMic of kMicMessage on the recorded acceptor context
  kImportContext = 3,        // ImportContext
  kImportExportName = 4,     // ImportName of type GSS_C_NT_EXPORT_NAME
  kImportCompositeName = 5,  // ImportName of type GSS_C_NT_COMPOSITE_EXPORT (PAC data)
  kImportCred = 6,           // ImportCred of the raw bytes (the seal check)
  kProcessContextToken = 7,  // ProcessContextToken on the recorded acceptor context
  kTokenOpCount = 8,
};
// Not a target: gss_import_cred of bytes inside a valid seal. Only tokens the daemon itself sealed
// for the same uid reach it (ExportCred's own output), and MIT 1.20's JSON credential parser
// crashes on malformed ones (found by an earlier version of this target; docs/security.md).

// The message the recorded MIC tokens sign.
inline constexpr char kMicMessage[] = "gssgate fuzz: a message with a MIC";

}  // namespace gssgate::fuzz
