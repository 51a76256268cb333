#include "daemon/handlers/common.h"
#include "daemon/handlers/cred_guard.h"
#include "lib/util/status_macros.h"

namespace gssgate::daemon {

// gss_init_sec_context, one step per call. The first step creates the context handle; a failed
// later step removes it (GSSAPI has deleted the context).
absl::Status Service::InitSecContext(const Call& call, const v1::InitSecContextRequest& request,
                                     v1::InitSecContextReply* reply) {
  GSSGATE_RETURN_IF_ERROR(
      require(call, Right::kInitiate, "init", "initiating security contexts"));
  GSSGATE_ASSIGN_OR_RETURN(gss::Oid mech, oid_field(request.mech(), "mech"));
  if (!request.has_target()) return absl::InvalidArgumentError("target is required");
  const bool first = request.context().empty();

  GSSGATE_ASSIGN_OR_RETURN(StepEntries entries,
                           step_entries(table(), call, request.context(), request.creds()));
  std::shared_ptr<Entry>& cred_entry = entries.cred;
  std::shared_ptr<Entry>& ctx_entry = entries.context;
  if (first) {
    if (mech.empty()) mech = gss::oids::krb5();
    GSSGATE_RETURN_IF_ERROR(require_mech(call, mech, "init"));
    ctx_entry->role = Entry::Role::kInitiator;
    ctx_entry->mech = mech;
  } else {
    // A later step continues the context with the mechanism it started with, whatever the
    // request says (see Entry::mech: MIT would crash on another one).
    if (ctx_entry->role != Entry::Role::kInitiator) {
      return absl::InvalidArgumentError(
          "context is an acceptor's context; continue it with AcceptSecContext");
    }
    if (!mech.empty() && mech != ctx_entry->mech) {
      return absl::InvalidArgumentError(
          absl::StrCat("mech ", mech.dotted(), " is not the mechanism this context started with (",
                       ctx_entry->mech.dotted(), "); send the same mech, or none, on later steps"));
    }
    mech = ctx_entry->mech;
  }

  gss::NameHandle target;
  gss::GssStatus status;
  GSSGATE_RETURN_IF_ERROR(import_wire_name(call, request.target(), "target", &target, &status));
  // The credential of every step (handlers/cred_guard.h): the caller's handle or its rule's
  // default, checked on the first step and held by the context for the later ones.
  CredCache::Cred default_cred;
  std::shared_ptr<const gss::CredHandle> step_cred;
  if (status.ok()) {
    GSSGATE_ASSIGN_OR_RETURN(
        step_cred, step_credential(*this, call, first, cred_entry, gss::CredUsage::kInitiate, &mech,
                                   ctx_entry.get(), &status, &default_cred));
  }
  // MIT fetches and stores the TGT and service tickets with the credential: a ccache directory
  // that cannot take them shows here (in the element check or the step), with an errno MIT's
  // message does not tie to the rule or the path. A shared default credential that is itself
  // broken (its ccache file removed, say) is not reused: the next call acquires afresh from the
  // rule's stores.
  auto explain_cred_failure = [&](gss::GssStatus* failed) {
    if (std::string why = ccache_diagnosis(call); !why.empty()) failed->minor_text.push_back(why);
    const OM_uint32 routine = GSS_ROUTINE_ERROR(failed->major);
    if (default_cred && (routine == GSS_S_NO_CRED || routine == GSS_S_DEFECTIVE_CREDENTIAL ||
                         routine == GSS_S_CREDENTIALS_EXPIRED)) {
      cred_cache().drop(default_cred);
    }
  };
  if (!status.ok() && step_cred) explain_cred_failure(&status);
  const std::string target_text = loggable_name(target, request.target());
  if (!status.ok()) {
    to_proto(status, reply->mutable_status());
    audit(call, "init", absl::StrCat("target=", log_value(target_text), " mech=", mech.dotted()),
          absl::StrCat("gss-error ", log_value(status.message())));
    return absl::OkStatus();
  }

  gss::InitSecContextRequest step;
  step.cred = step_cred.get();
  step.target = &target;
  step.mech = mech;
  step.flags =
      request.has_flags() ? gss::Flags::from_bits(request.flags()) : gss::kDefaultInitFlags;
  // Policy filters delegation out of the request (GSSAPI flags are requests: the caller learns
  // from the reply's flags that it did not happen, as with a KDC that refuses to forward).
  const gss::Flags delegation = gss::Flag::kDelegate | gss::Flag::kOkAsDelegate;
  const bool delegation_filtered = !call.grant.has(Right::kDelegate) && !(step.flags & delegation).empty();
  if (delegation_filtered) step.flags = step.flags - delegation;
  step.lifetime = request.lifetime();
  gss::ChannelBindings bindings;
  if (request.has_channel_bindings()) {
    bindings = bindings_from_proto(request.channel_bindings());
    step.bindings = &bindings;
  }
  step.input_token = request.input_token();
  gss::InitSecContextResult out;
  {
    absl::MutexLock lock(&ctx_entry->mu);
    status = gss::init_sec_context(&ctx_entry->context, step, &out);
  }
  if (!status.ok()) explain_cred_failure(&status);
  to_proto(status, reply->mutable_status());
  reply->set_output_token(std::move(out.output_token));
  reply->set_continue_needed(status.continue_needed());
  reply->set_mech(out.mech.der());
  reply->set_flags(out.flags.bits());
  reply->set_lifetime(out.lifetime);

  std::string details =
      absl::StrCat("target=", log_value(target_text),
                   " principal=", log_value(ctx_entry->principal), " mech=", mech.dotted(),
                   " flags=", out.flags.to_string(), " token_bytes=", reply->output_token().size());
  if (delegation_filtered)
    absl::StrAppend(&details, " delegation=filtered (rule grants no delegate)");
  const bool complete = status.ok() && !status.continue_needed();
  if (complete) {
    complete_names_to_proto(call, *ctx_entry, reply->mutable_initiator_name(),
                            reply->mutable_target_name());
  }
  GSSGATE_ASSIGN_OR_RETURN(std::string handle,
                           settle_step(table(), call, status, request.context(), ctx_entry,
                                       request.release_when_complete()));
  reply->set_context(handle);
  if (!status.ok()) {
    audit(call, "init", details, absl::StrCat("gss-error ", log_value(status.message())));
    return absl::OkStatus();
  }
  audit(call, "init", details,
        !complete                           ? "continue"
        : request.release_when_complete() ? "complete (released)"
                                          : "complete");
  return absl::OkStatus();
}

}  // namespace gssgate::daemon
