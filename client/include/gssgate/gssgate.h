#pragma once

/// @file
/// libgssgate: a C++ mirror of python-gssapi's high-level API, served by gssgated.
///
///     #include <gssgate/gssgate.h>
///     gssgate::Name target("HTTP@web.example.com", gssgate::NameType::hostbased_service());
///     gssgate::SecurityContext ctx({.name = target, .usage = "initiate"});
///     std::optional<std::string> token = ctx.step();

#include "gssgate/connection.h"
#include "gssgate/creds.h"
#include "gssgate/daemon.h"
#include "gssgate/errors.h"
#include "gssgate/names.h"
#include "gssgate/sec_contexts.h"
#include "gssgate/types.h"
