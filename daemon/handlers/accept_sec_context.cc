#include <krb5/krb5.h>

#include <optional>
#include <vector>

#include "daemon/handlers/common.h"
#include "daemon/handlers/cred_guard.h"
#include "lib/util/status_macros.h"

namespace gssgate::daemon {

// gss_accept_sec_context, one step per call, with the keytab the caller's rule grants. Delegated
// credentials become a credential handle of the caller when the rule grants accept_delegated.
absl::Status Service::AcceptSecContext(const Call& call, const v1::AcceptSecContextRequest& request,
                                       v1::AcceptSecContextReply* reply) {
  return accept_step(call, request, reply, /*once=*/false);
}

namespace {

// Whether MIT verified an AP-REQ in the step that just ran without error, which is when MIT
// itself records it. A complete step did. A step that needs another: if its reply holds an
// AP-REP (mutual authentication, or DCE style), or if its context already knows the initiator
// (SPNEGO waiting for the mechListMIC). Otherwise the mechanism did not look at an AP-REQ the
// token may hold (SPNEGO asking for a token of another mechanism, IAKERB's KDC exchange), and
// recording it would let anyone who can send a token fill the cache without a ticket.
bool verified_an_ap_req(const gss::GssStatus& status, const gss::ContextHandle& context,
                        std::string_view reply) {
  if (!status.continue_needed()) return true;
  if (holds_ap_rep(reply)) return true;
  gss::ContextInfo info;
  const gss::GssStatus inquired =
      gss::inquire_context(context, &info, gss::ContextNames{.initiator = true, .target = false});
  // MIT calls a context in its last second expired, though it verified the AP-REQ.
  return (inquired.ok() || GSS_ROUTINE_ERROR(inquired.major) == GSS_S_CONTEXT_EXPIRED) &&
         static_cast<bool>(info.initiator_name);
}

}  // namespace

absl::Status Service::accept_step(const Call& call, const v1::AcceptSecContextRequest& request,
                                  v1::AcceptSecContextReply* reply, bool once) {
  GSSGATE_RETURN_IF_ERROR(
      require(call, Right::kAccept, "accept", "accepting security contexts"));
  GSSGATE_ASSIGN_OR_RETURN(StepEntries entries,
                           step_entries(table(), call, request.context(), request.creds()));
  std::shared_ptr<Entry>& cred_entry = entries.cred;
  std::shared_ptr<Entry>& ctx_entry = entries.context;
  const bool first = request.context().empty();
  if (first) {
    ctx_entry->role = Entry::Role::kAcceptor;
    ctx_entry->hide_delegation = !call.grant.has(Right::kAcceptDelegated);
  } else if (ctx_entry->role != Entry::Role::kAcceptor) {
    return absl::InvalidArgumentError(
        "context is an initiator's context; continue it with InitSecContext");
  }
  gss::GssStatus status;
  // The credential of every step (handlers/cred_guard.h): the caller's handle or its rule's
  // default, checked on the first step against the mechanism MIT will pick for the token, and held
  // by the context for the later ones (SPNEGO hands its inner mechanism whatever credential the
  // later step passes: without one, the daemon's default keytab).
  std::optional<gss::Oid> mech;
  std::string mech_text;
  if (first) {
    // A token without a recognisable header is refused by MIT before it looks at credentials.
    absl::StatusOr<gss::Oid> token_mech = gss::initial_token_mech(request.input_token());
    if (token_mech.ok()) {
      GSSGATE_RETURN_IF_ERROR(require_mech(call, *token_mech, "accept"));
      mech_text = absl::StrCat(" mech=", token_mech->dotted());
      mech = *std::move(token_mech);
    }
  }
  CredCache::Cred default_cred;
  GSSGATE_ASSIGN_OR_RETURN(
      std::shared_ptr<const gss::CredHandle> step_cred,
      step_credential(*this, call, first, cred_entry, gss::CredUsage::kAccept,
                      mech ? &*mech : nullptr, ctx_entry.get(), &status, &default_cred));
  // Which credential the first step runs with, for its audit line: as step_credential chose it
  // (a handle stops following the default acceptor when its enctypes are set, SetCredOption).
  const char* creds = !cred_entry    ? "creds=default"
                      : default_cred ? "creds=handle(default acceptor)"
                                     : "creds=handle";
  if (!status.ok()) {
    to_proto(status, reply->mutable_status());
    audit(call, "accept", absl::StrCat(creds, mech_text),
          absl::StrCat("gss-error ", log_value(status.message())));
    return absl::OkStatus();
  }

  // gssgated's replay cache (daemon/replay_cache.h), where MIT's is off: the AP-REQs this token
  // holds, found before MIT runs and recorded once it accepted them.
  std::vector<ReplayTag> replay_tags;
  if (replay_cache() != nullptr) {
    absl::StatusOr<std::vector<ReplayTag>> tags = authenticator_tags(request.input_token());
    if (!tags.ok()) {
      status = gss::check("gss_accept_sec_context", GSS_S_DEFECTIVE_TOKEN, 0);
      status.minor_text = {std::string(tags.status().message())};
      to_proto(status, reply->mutable_status());
      audit(call, "accept", absl::StrCat("token_bytes=", request.input_token().size(), mech_text),
            absl::StrCat("gss-error ", log_value(status.message())));
      return absl::OkStatus();
    }
    replay_tags = *std::move(tags);
  }

  gss::AcceptSecContextRequest step;
  step.cred = step_cred.get();
  step.input_token = request.input_token();
  gss::ChannelBindings bindings;
  if (request.has_channel_bindings()) {
    bindings = bindings_from_proto(request.channel_bindings());
    step.bindings = &bindings;
  }
  gss::AcceptSecContextResult out;
  bool delegation_released = false;
  {
    absl::MutexLock lock(&ctx_entry->mu);
    status = gss::accept_sec_context(&ctx_entry->context, step, &out);
    if (replay_cache() != nullptr && !GSS_ERROR(status.major) && !ctx_entry->replay_recorded &&
        verified_an_ap_req(status, ctx_entry->context, out.output_token)) {
      // A context MIT verified an AP-REQ for must have recorded it, and one cannot complete
      // without: should the search ever miss an AP-REQ MIT decoded, the step fails rather than
      // let its replay through.
      absl::Status recorded =
          replay_tags.empty()
              ? absl::FailedPreconditionError(
                    "gssgated found no Kerberos AP-REQ it could record in a token MIT accepted, "
                    "so its replay could not be refused; the token is refused instead")
              : replay_cache()->record(replay_tags, absl::Now());
      if (recorded.ok()) {
        ctx_entry->replay_recorded = true;
      } else {
        // What MIT's acceptor does when its cache holds the authenticator, or cannot be written:
        // the step fails and what it made is dropped.
        ctx_entry->context.reset();
        out = gss::AcceptSecContextResult{};
        if (absl::IsAlreadyExists(recorded)) {
          // MIT's numbers, and its text: the minor code is one MIT's mechglue never mapped in
          // this process, so gss_display_status cannot render it.
          status = gss::check("gss_accept_sec_context", GSS_S_FAILURE, 0);
          status.minor = static_cast<OM_uint32>(KRB5KRB_AP_ERR_REPEAT);
          status.mech = gss::oids::krb5();
          const char* text = krb5_get_error_message(nullptr, KRB5KRB_AP_ERR_REPEAT);
          status.minor_text = {text};
          krb5_free_error_message(nullptr, text);
        } else {
          status = gss::check("gss_accept_sec_context",
                              replay_tags.empty() ? GSS_S_DEFECTIVE_TOKEN : GSS_S_FAILURE, 0);
          status.minor_text = {std::string(recorded.message())};
        }
      }
    }
  }
  if (ctx_entry->hide_delegation) {
    // Not granted: release them here, so the caller never holds a handle to the peer's TGT (nor
    // to S4U2Proxy evidence tickets, which MIT also returns this way), and say nothing of it.
    delegation_released = static_cast<bool>(out.delegated_cred);
    out.delegated_cred.reset();
    out.flags = out.flags - gss::Flag::kDelegate;
  }
  if (!status.ok() && is_keytab_error(status.minor)) {
    // The keys, not the caller, are at fault: say which rule and file (the keytab is read at
    // accept time, so a removed or stale keytab shows here, not at acquisition).
    if (std::string why = keytab_diagnosis(call); !why.empty()) status.minor_text.push_back(why);
  }
  to_proto(status, reply->mutable_status());
  reply->set_output_token(std::move(out.output_token));
  reply->set_continue_needed(status.continue_needed());
  reply->set_mech(out.mech.der());
  reply->set_flags(out.flags.bits());
  reply->set_lifetime(out.lifetime);

  std::string details = absl::StrCat("token_bytes=", request.input_token().size(), mech_text);
  if (first) absl::StrAppend(&details, " ", creds);
  if (!ctx_entry->principal.empty()) {
    absl::StrAppend(&details, " principal=", log_value(ctx_entry->principal));
  }
  const bool complete = status.ok() && !status.continue_needed();
  if (complete) complete_names_to_proto(call, *ctx_entry, nullptr, reply->mutable_target_name());
  GSSGATE_ASSIGN_OR_RETURN(std::string handle,
                           settle_step(table(), call, status, request.context(), ctx_entry,
                                       request.release_when_complete(), once));
  reply->set_context(handle);
  if (!status.ok()) {
    audit(call, "accept", details, absl::StrCat("gss-error ", log_value(status.message())));
    return absl::OkStatus();
  }
  if (out.initiator_name) {
    name_to_proto(call, out.initiator_name, reply->mutable_initiator_name());
    absl::StrAppend(&details, " initiator=", log_value(reply->initiator_name().display()));
  }
  absl::StrAppend(&details, " flags=", out.flags.to_string());
  if (delegation_released) {
    absl::StrAppend(&details, " delegated=released (rule grants no accept_delegated)");
  } else if (out.delegated_cred) {
    auto delegated = std::make_shared<Entry>(call.owner, HandleKind::kCred);
    delegated->cred = std::move(out.delegated_cred);
    auto delegated_handle = table().insert(delegated, call.grant.max_handles());
    if (delegated_handle.ok()) {
      reply->set_delegated_creds(*delegated_handle);
      absl::StrAppend(&details, " delegated=yes");
    } else {
      absl::StrAppend(&details, " delegated=dropped (", delegated_handle.status().message(), ")");
    }
  }
  audit(call, "accept", details,
        !complete                           ? "continue"
        : request.release_when_complete() ? "complete (released)"
                                          : "complete");
  return absl::OkStatus();
}
}  // namespace gssgate::daemon
