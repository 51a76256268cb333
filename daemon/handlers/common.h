#pragma once

// What the handlers share, one header per concern: proto conversions (convert.h), audit lines and
// refusals (audit.h), the rule's credential stores (stores.h), policy-checked acquisition
// (acquire.h) and the init/accept step logic (step.h).

#include "daemon/handlers/acquire.h"
#include "daemon/handlers/audit.h"
#include "daemon/handlers/convert.h"
#include "daemon/handlers/step.h"
#include "daemon/handlers/stores.h"
