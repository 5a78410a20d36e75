//! One POST per event. Each handler checks the token's role before it reads anything else
//! (so a refusal never depends on the body), builds the domain event from the body and
//! sends it through [`Service::submit`]: the engine's one path, idempotent by the
//! `Idempotency-Key`, which becomes the event's id.

use axum::extract::State;
use axum::response::Response;
use chrono::{DateTime, Utc};
use cohandle_workflows::model::{
    Contact, Disclosure, Dispatch, Draft, Feedback, Opinion, Signature,
};
use cohandle_workflows::{AgencyCode, Body, EventId, ProposalKey};

use super::tags;
use super::WriteErrors;
use crate::access;
use crate::auth::Principal;
use crate::dto::{
    AbsorbRequest, AgencyCodeText, AssignRequest, ContactRequest, DisagreementRequest,
    DisclosureRequest, DisputeDecisionRequest, DraftRequest, ExtensionRequest, FeedbackRequest,
    IdempotencyKeyText, MergeRequest, NoteRequest, OpinionRequest, ProposalKeyText, ReasonRequest,
    ReplyRequest, SettlementRequest, SignatureRequest, StepRequest, WriteOutcome,
};
use crate::extract::{ApiPath, IdempotencyKey, JsonBody};
use crate::service::{Command, Service};
use crate::Error;

type Key = Result<IdempotencyKey, Error>;
type On<P> = Result<ApiPath<P>, Error>;
type With<B> = Result<JsonBody<B>, Error>;
type Answer = Result<Response, Error>;

/// Checks, in order: the role may send `event`, the idempotency key, the path, the body.
fn admit<P, B>(
    principal: &Principal,
    event: &str,
    key: Key,
    path: On<P>,
    body: With<B>,
) -> Result<(EventId, P, B), Error> {
    access::may_send(principal, event)?;
    let id = key?.event_id(principal)?;
    let ApiPath(path) = path?;
    let JsonBody(body) = body?;
    Ok((id, path, body))
}

async fn send(
    service: &Service,
    principal: &Principal,
    id: EventId,
    proposal: ProposalKey,
    occurred_at: Option<DateTime<Utc>>,
    body: Body,
) -> Answer {
    let command = Command {
        id,
        proposal,
        occurred_at,
        body,
    };
    Ok(super::submitted(service.submit(principal, command).await?))
}

/// The `Idempotency-Key` header, documented once for every write.
#[derive(Debug, utoipa::IntoParams)]
#[into_params(parameter_in = Header)]
#[allow(dead_code)] // only described: the header is read by `IdempotencyKey`
pub struct IdempotencyHeader {
    /// A unique id of the client's choosing (ASCII letters, digits and `- _ . : /`,
    /// beginning with a letter or a digit, at most 128 characters), sent again unchanged on
    /// a retry: a retry answers the first outcome, with `Idempotent-Replayed: true`. A key
    /// is the caller's own (its agency and role): the event's id is
    /// `http/<agency>/<role>/<key>`, so the same key from another caller is another event.
    #[param(rename = "Idempotency-Key", value_type = IdempotencyKeyText)]
    idempotency_key: String,
}

// --- the assigner -------------------------------------------------------------------------

/// Assign (交办) a new proposal to its lead and co-handlers, a sole handler, or split handlers.
#[utoipa::path(post, path = "/v1/proposals", tag = tags::ASSIGNER,
    params(IdempotencyHeader), request_body = AssignRequest,
    responses((status = 201, description = "Assigned; `Location` names the proposal.", body = WriteOutcome), WriteErrors),
    security(("bearer" = [])))]
pub async fn assign(
    State(s): State<Service>,
    p: Principal,
    key: Key,
    body: With<AssignRequest>,
) -> Answer {
    access::may_send(&p, "assign")?;
    let id = key?.event_id(&p)?;
    let JsonBody(r) = body?;
    let (proposal, occurred_at) = (r.key.clone(), r.occurred_at);
    send(&s, &p, id, proposal, occurred_at, r.into_body()).await
}

/// Decide an agency's dispute of its task: keep it there, or reassign it.
#[utoipa::path(post, path = "/v1/proposals/{key}/tasks/{agency}/dispute-decision", tag = tags::ASSIGNER,
    params(("key" = ProposalKeyText, Path, description = "The proposal's key"), ("agency" = AgencyCodeText, Path, description = "The disputing agency"), IdempotencyHeader),
    request_body = DisputeDecisionRequest,
    responses((status = 200, body = WriteOutcome), WriteErrors), security(("bearer" = [])))]
pub async fn decide_dispute(
    State(s): State<Service>,
    p: Principal,
    key: Key,
    path: On<(ProposalKey, AgencyCode)>,
    body: With<DisputeDecisionRequest>,
) -> Answer {
    let (id, (proposal, agency), r) = admit(&p, "decide_dispute", key, path, body)?;
    let occurred_at = r.occurred_at();
    let decision = r.decision();
    send(
        &s,
        &p,
        id,
        proposal,
        occurred_at,
        Body::DecideDispute { agency, decision },
    )
    .await
}

/// Settle the lead's disagreement with a co-handler's opinion.
#[utoipa::path(post, path = "/v1/proposals/{key}/disagreements/{co_handler}/settlement", tag = tags::ASSIGNER,
    params(("key" = ProposalKeyText, Path, description = "The proposal's key"), ("co_handler" = AgencyCodeText, Path, description = "The co-handler the lead disagrees with"), IdempotencyHeader),
    request_body = SettlementRequest,
    responses((status = 200, body = WriteOutcome), WriteErrors), security(("bearer" = [])))]
pub async fn settle_disagreement(
    State(s): State<Service>,
    p: Principal,
    key: Key,
    path: On<(ProposalKey, AgencyCode)>,
    body: With<SettlementRequest>,
) -> Answer {
    let (id, (proposal, co_handler), r) = admit(&p, "settle_disagreement", key, path, body)?;
    let body = Body::SettleDisagreement {
        co_handler,
        resolution: r.resolution,
    };
    send(&s, &p, id, proposal, r.occurred_at, body).await
}

/// Approve an agency's request for more time.
#[utoipa::path(post, path = "/v1/proposals/{key}/tasks/{agency}/extension/approval", tag = tags::ASSIGNER,
    params(("key" = ProposalKeyText, Path, description = "The proposal's key"), ("agency" = AgencyCodeText, Path, description = "The agency that asked"), IdempotencyHeader),
    request_body(content = StepRequest, description = "May be empty"),
    responses((status = 200, body = WriteOutcome), WriteErrors), security(("bearer" = [])))]
pub async fn approve_extension(
    State(s): State<Service>,
    p: Principal,
    key: Key,
    path: On<(ProposalKey, AgencyCode)>,
    body: With<StepRequest>,
) -> Answer {
    let (id, (proposal, agency), r) = admit(&p, "approve_extension", key, path, body)?;
    send(
        &s,
        &p,
        id,
        proposal,
        r.occurred_at,
        Body::ApproveExtension { agency },
    )
    .await
}

/// Refuse an agency's request for more time.
#[utoipa::path(post, path = "/v1/proposals/{key}/tasks/{agency}/extension/refusal", tag = tags::ASSIGNER,
    params(("key" = ProposalKeyText, Path, description = "The proposal's key"), ("agency" = AgencyCodeText, Path, description = "The agency that asked"), IdempotencyHeader),
    request_body = ReasonRequest,
    responses((status = 200, body = WriteOutcome), WriteErrors), security(("bearer" = [])))]
pub async fn refuse_extension(
    State(s): State<Service>,
    p: Principal,
    key: Key,
    path: On<(ProposalKey, AgencyCode)>,
    body: With<ReasonRequest>,
) -> Answer {
    let (id, (proposal, agency), r) = admit(&p, "refuse_extension", key, path, body)?;
    let body = Body::RefuseExtension {
        agency,
        reason: r.reason,
    };
    send(&s, &p, id, proposal, r.occurred_at, body).await
}

/// Merge this proposal into an identical one (并案); its tasks stop.
#[utoipa::path(post, path = "/v1/proposals/{key}/merge", tag = tags::ASSIGNER,
    params(("key" = ProposalKeyText, Path, description = "The proposal merged away"), IdempotencyHeader),
    request_body = MergeRequest,
    responses((status = 200, body = WriteOutcome), WriteErrors), security(("bearer" = [])))]
pub async fn merge_into(
    State(s): State<Service>,
    p: Principal,
    key: Key,
    path: On<ProposalKey>,
    body: With<MergeRequest>,
) -> Answer {
    let (id, proposal, r) = admit(&p, "merge_into", key, path, body)?;
    send(
        &s,
        &p,
        id,
        proposal,
        r.occurred_at,
        Body::MergeInto { target: r.target },
    )
    .await
}

/// Take in the deputies of a proposal merged into this one; each still gets a reply.
#[utoipa::path(post, path = "/v1/proposals/{key}/absorption", tag = tags::ASSIGNER,
    params(("key" = ProposalKeyText, Path, description = "The proposal that absorbs"), IdempotencyHeader),
    request_body = AbsorbRequest,
    responses((status = 200, body = WriteOutcome), WriteErrors), security(("bearer" = [])))]
pub async fn absorb(
    State(s): State<Service>,
    p: Principal,
    key: Key,
    path: On<ProposalKey>,
    body: With<AbsorbRequest>,
) -> Answer {
    let (id, proposal, r) = admit(&p, "absorb", key, path, body)?;
    let body = Body::Absorb {
        source: r.source,
        deputies: r.deputies,
    };
    send(&s, &p, id, proposal, r.occurred_at, body).await
}

// --- the lead agency (or a sole or split handler) -------------------------------------------

/// Sign for the handler's task (签收).
#[utoipa::path(post, path = "/v1/proposals/{key}/sign-for", tag = tags::LEAD,
    params(("key" = ProposalKeyText, Path, description = "The proposal's key"), IdempotencyHeader),
    request_body(content = StepRequest, description = "May be empty"),
    responses((status = 200, body = WriteOutcome), WriteErrors), security(("bearer" = [])))]
pub async fn sign_for(
    State(s): State<Service>,
    p: Principal,
    key: Key,
    path: On<ProposalKey>,
    body: With<StepRequest>,
) -> Answer {
    let (id, proposal, r) = admit(&p, "sign_for", key, path, body)?;
    send(&s, &p, id, proposal, r.occurred_at, Body::SignFor).await
}

/// Disagree with a co-handler's opinion; the assigner settles it.
#[utoipa::path(post, path = "/v1/proposals/{key}/disagreements", tag = tags::LEAD,
    params(("key" = ProposalKeyText, Path, description = "The proposal's key"), IdempotencyHeader),
    request_body = DisagreementRequest,
    responses((status = 200, body = WriteOutcome), WriteErrors), security(("bearer" = [])))]
pub async fn raise_disagreement(
    State(s): State<Service>,
    p: Principal,
    key: Key,
    path: On<ProposalKey>,
    body: With<DisagreementRequest>,
) -> Answer {
    let (id, proposal, r) = admit(&p, "raise_disagreement", key, path, body)?;
    let body = Body::RaiseDisagreement {
        co_handler: r.co_handler,
        reason: r.reason,
    };
    send(&s, &p, id, proposal, r.occurred_at, body).await
}

/// Record a contact with the deputy (phone, meeting, letter).
#[utoipa::path(post, path = "/v1/proposals/{key}/contacts", tag = tags::LEAD,
    params(("key" = ProposalKeyText, Path, description = "The proposal's key"), IdempotencyHeader),
    request_body = ContactRequest,
    responses((status = 200, body = WriteOutcome), WriteErrors), security(("bearer" = [])))]
pub async fn record_contact(
    State(s): State<Service>,
    p: Principal,
    key: Key,
    path: On<ProposalKey>,
    body: With<ContactRequest>,
) -> Answer {
    let (id, proposal, r) = admit(&p, "record_contact", key, path, body)?;
    let body = Body::RecordContact(Contact {
        method: r.method.into(),
        on: r.on,
        deputy_agreed: r.deputy_agreed,
        note: r.note,
    });
    send(&s, &p, id, proposal, r.occurred_at, body).await
}

/// Draft the reply (答复函), with its result class and document number.
#[utoipa::path(post, path = "/v1/proposals/{key}/draft", tag = tags::LEAD,
    params(("key" = ProposalKeyText, Path, description = "The proposal's key"), IdempotencyHeader),
    request_body = DraftRequest,
    responses((status = 200, body = WriteOutcome), WriteErrors), security(("bearer" = [])))]
pub async fn draft_reply(
    State(s): State<Service>,
    p: Principal,
    key: Key,
    path: On<ProposalKey>,
    body: With<DraftRequest>,
) -> Answer {
    let (id, proposal, r) = admit(&p, "draft_reply", key, path, body)?;
    let body = Body::DraftReply(Draft {
        result_class: r.result_class.into(),
        document_number: r.document_number,
        summary: r.summary,
        co_handler_views: r.co_handler_views,
        commits_funds: r.commits_funds,
    });
    send(&s, &p, id, proposal, r.occurred_at, body).await
}

/// Return the draft for rework (the head did not sign it).
#[utoipa::path(post, path = "/v1/proposals/{key}/draft/return", tag = tags::LEAD,
    params(("key" = ProposalKeyText, Path, description = "The proposal's key"), IdempotencyHeader),
    request_body = ReasonRequest,
    responses((status = 200, body = WriteOutcome), WriteErrors), security(("bearer" = [])))]
pub async fn return_draft(
    State(s): State<Service>,
    p: Principal,
    key: Key,
    path: On<ProposalKey>,
    body: With<ReasonRequest>,
) -> Answer {
    let (id, proposal, r) = admit(&p, "return_draft", key, path, body)?;
    send(
        &s,
        &p,
        id,
        proposal,
        r.occurred_at,
        Body::ReturnDraft { reason: r.reason },
    )
    .await
}

/// The head signs the reply (审签).
#[utoipa::path(post, path = "/v1/proposals/{key}/signature", tag = tags::LEAD,
    params(("key" = ProposalKeyText, Path, description = "The proposal's key"), IdempotencyHeader),
    request_body = SignatureRequest,
    responses((status = 200, body = WriteOutcome), WriteErrors), security(("bearer" = [])))]
pub async fn sign_reply(
    State(s): State<Service>,
    p: Principal,
    key: Key,
    path: On<ProposalKey>,
    body: With<SignatureRequest>,
) -> Answer {
    let (id, proposal, r) = admit(&p, "sign_reply", key, path, body)?;
    let body = Body::SignReply(Signature {
        signer: r.signer,
        title: r.title,
        principal_head: r.principal_head,
        signed_on: r.signed_on,
    });
    send(&s, &p, id, proposal, r.occurred_at, body).await
}

/// Send the signed reply to the deputies (答复).
#[utoipa::path(post, path = "/v1/proposals/{key}/reply", tag = tags::LEAD,
    params(("key" = ProposalKeyText, Path, description = "The proposal's key"), IdempotencyHeader),
    request_body = ReplyRequest,
    responses((status = 200, body = WriteOutcome), WriteErrors), security(("bearer" = [])))]
pub async fn send_reply(
    State(s): State<Service>,
    p: Principal,
    key: Key,
    path: On<ProposalKey>,
    body: With<ReplyRequest>,
) -> Answer {
    let (id, proposal, r) = admit(&p, "send_reply", key, path, body)?;
    let body = Body::SendReply(Dispatch {
        sent_on: r.sent_on,
        deputies: r.deputies,
        copies: r.copies,
    });
    send(&s, &p, id, proposal, r.occurred_at, body).await
}

/// Report progress on a class B reply being carried out.
#[utoipa::path(post, path = "/v1/proposals/{key}/progress", tag = tags::LEAD,
    params(("key" = ProposalKeyText, Path, description = "The proposal's key"), IdempotencyHeader),
    request_body = NoteRequest,
    responses((status = 200, body = WriteOutcome), WriteErrors), security(("bearer" = [])))]
pub async fn report_progress(
    State(s): State<Service>,
    p: Principal,
    key: Key,
    path: On<ProposalKey>,
    body: With<NoteRequest>,
) -> Answer {
    let (id, proposal, r) = admit(&p, "report_progress", key, path, body)?;
    send(
        &s,
        &p,
        id,
        proposal,
        r.occurred_at,
        Body::ReportProgress { note: r.note },
    )
    .await
}

/// Conclude the follow-up of a class B reply.
#[utoipa::path(post, path = "/v1/proposals/{key}/follow-up/conclusion", tag = tags::LEAD,
    params(("key" = ProposalKeyText, Path, description = "The proposal's key"), IdempotencyHeader),
    request_body = NoteRequest,
    responses((status = 200, body = WriteOutcome), WriteErrors), security(("bearer" = [])))]
pub async fn conclude_follow_up(
    State(s): State<Service>,
    p: Principal,
    key: Key,
    path: On<ProposalKey>,
    body: With<NoteRequest>,
) -> Answer {
    let (id, proposal, r) = admit(&p, "conclude_follow_up", key, path, body)?;
    send(
        &s,
        &p,
        id,
        proposal,
        r.occurred_at,
        Body::ConcludeFollowUp { note: r.note },
    )
    .await
}

/// Record the face-to-face consultation after a repeated dissatisfaction.
#[utoipa::path(post, path = "/v1/proposals/{key}/consultation", tag = tags::LEAD,
    params(("key" = ProposalKeyText, Path, description = "The proposal's key"), IdempotencyHeader),
    request_body = NoteRequest,
    responses((status = 200, body = WriteOutcome), WriteErrors), security(("bearer" = [])))]
pub async fn record_consultation(
    State(s): State<Service>,
    p: Principal,
    key: Key,
    path: On<ProposalKey>,
    body: With<NoteRequest>,
) -> Answer {
    let (id, proposal, r) = admit(&p, "record_consultation", key, path, body)?;
    send(
        &s,
        &p,
        id,
        proposal,
        r.occurred_at,
        Body::RecordConsultation { note: r.note },
    )
    .await
}

/// Ask the assigner for more time on the reply.
#[utoipa::path(post, path = "/v1/proposals/{key}/extension", tag = tags::LEAD,
    params(("key" = ProposalKeyText, Path, description = "The proposal's key"), IdempotencyHeader),
    request_body = ExtensionRequest,
    responses((status = 200, body = WriteOutcome), WriteErrors), security(("bearer" = [])))]
pub async fn request_extension(
    State(s): State<Service>,
    p: Principal,
    key: Key,
    path: On<ProposalKey>,
    body: With<ExtensionRequest>,
) -> Answer {
    let (id, proposal, r) = admit(&p, "request_extension", key, path, body)?;
    let body = Body::RequestExtension {
        until: r.until,
        reason: r.reason,
    };
    send(&s, &p, id, proposal, r.occurred_at, body).await
}

/// Record the publication (公开) of the reply.
#[utoipa::path(post, path = "/v1/proposals/{key}/disclosure", tag = tags::LEAD,
    params(("key" = ProposalKeyText, Path, description = "The proposal's key"), IdempotencyHeader),
    request_body = DisclosureRequest,
    responses((status = 200, body = WriteOutcome), WriteErrors), security(("bearer" = [])))]
pub async fn record_disclosure(
    State(s): State<Service>,
    p: Principal,
    key: Key,
    path: On<ProposalKey>,
    body: With<DisclosureRequest>,
) -> Answer {
    let (id, proposal, r) = admit(&p, "record_disclosure", key, path, body)?;
    let body = Body::RecordDisclosure(Disclosure {
        index_number: r.index_number,
        topic: r.topic,
        genre: r.genre,
        issuing_body: r.issuing_body,
        written_on: r.written_on,
        published_on: r.published_on,
        scope: r.scope.into(),
        withheld_reason: r.withheld_reason,
    });
    send(&s, &p, id, proposal, r.occurred_at, body).await
}

/// Stop the reply deadline's clock for a reason the definition allows.
#[utoipa::path(post, path = "/v1/proposals/{key}/clock/pause", tag = tags::LEAD,
    params(("key" = ProposalKeyText, Path, description = "The proposal's key"), IdempotencyHeader),
    request_body = ReasonRequest,
    responses((status = 200, body = WriteOutcome), WriteErrors), security(("bearer" = [])))]
pub async fn pause_clock(
    State(s): State<Service>,
    p: Principal,
    key: Key,
    path: On<ProposalKey>,
    body: With<ReasonRequest>,
) -> Answer {
    let (id, proposal, r) = admit(&p, "pause_clock", key, path, body)?;
    send(
        &s,
        &p,
        id,
        proposal,
        r.occurred_at,
        Body::PauseClock { reason: r.reason },
    )
    .await
}

/// Restart a stopped clock with the time that was left.
#[utoipa::path(post, path = "/v1/proposals/{key}/clock/resume", tag = tags::LEAD,
    params(("key" = ProposalKeyText, Path, description = "The proposal's key"), IdempotencyHeader),
    request_body(content = StepRequest, description = "May be empty"),
    responses((status = 200, body = WriteOutcome), WriteErrors), security(("bearer" = [])))]
pub async fn resume_clock(
    State(s): State<Service>,
    p: Principal,
    key: Key,
    path: On<ProposalKey>,
    body: With<StepRequest>,
) -> Answer {
    let (id, proposal, r) = admit(&p, "resume_clock", key, path, body)?;
    send(&s, &p, id, proposal, r.occurred_at, Body::ResumeClock).await
}

// --- partner agencies (co-handlers), and any handler ------------------------------------

/// Acknowledge a co-handling task (签收).
#[utoipa::path(post, path = "/v1/proposals/{key}/acknowledgement", tag = tags::PARTNER,
    params(("key" = ProposalKeyText, Path, description = "The proposal's key"), IdempotencyHeader),
    request_body(content = StepRequest, description = "May be empty"),
    responses((status = 200, body = WriteOutcome), WriteErrors), security(("bearer" = [])))]
pub async fn acknowledge(
    State(s): State<Service>,
    p: Principal,
    key: Key,
    path: On<ProposalKey>,
    body: With<StepRequest>,
) -> Answer {
    let (id, proposal, r) = admit(&p, "acknowledge", key, path, body)?;
    send(&s, &p, id, proposal, r.occurred_at, Body::Acknowledge).await
}

/// Send the co-handler's written opinion (协办意见) to the lead.
#[utoipa::path(post, path = "/v1/proposals/{key}/opinion", tag = tags::PARTNER,
    params(("key" = ProposalKeyText, Path, description = "The proposal's key"), IdempotencyHeader),
    request_body = OpinionRequest,
    responses((status = 200, body = WriteOutcome), WriteErrors), security(("bearer" = [])))]
pub async fn submit_opinion(
    State(s): State<Service>,
    p: Principal,
    key: Key,
    path: On<ProposalKey>,
    body: With<OpinionRequest>,
) -> Answer {
    let (id, proposal, r) = admit(&p, "submit_opinion", key, path, body)?;
    let body = Body::SubmitOpinion(Opinion {
        document_number: r.document_number,
        summary: r.summary,
        submitted_on: r.submitted_on,
    });
    send(&s, &p, id, proposal, r.occurred_at, body).await
}

/// Dispute the assignment (申请调整), within the dispute window; lead or co-handler.
#[utoipa::path(post, path = "/v1/proposals/{key}/dispute", tag = tags::PARTNER,
    params(("key" = ProposalKeyText, Path, description = "The proposal's key"), IdempotencyHeader),
    request_body = ReasonRequest,
    responses((status = 200, body = WriteOutcome), WriteErrors), security(("bearer" = [])))]
pub async fn dispute(
    State(s): State<Service>,
    p: Principal,
    key: Key,
    path: On<ProposalKey>,
    body: With<ReasonRequest>,
) -> Answer {
    let (id, proposal, r) = admit(&p, "dispute", key, path, body)?;
    send(
        &s,
        &p,
        id,
        proposal,
        r.occurred_at,
        Body::Dispute { reason: r.reason },
    )
    .await
}

/// Decline a co-handling task, with a reason.
#[utoipa::path(post, path = "/v1/proposals/{key}/decline", tag = tags::PARTNER,
    params(("key" = ProposalKeyText, Path, description = "The proposal's key"), IdempotencyHeader),
    request_body = ReasonRequest,
    responses((status = 200, body = WriteOutcome), WriteErrors), security(("bearer" = [])))]
pub async fn decline(
    State(s): State<Service>,
    p: Principal,
    key: Key,
    path: On<ProposalKey>,
    body: With<ReasonRequest>,
) -> Answer {
    let (id, proposal, r) = admit(&p, "decline", key, path, body)?;
    send(
        &s,
        &p,
        id,
        proposal,
        r.occurred_at,
        Body::Decline { reason: r.reason },
    )
    .await
}

// --- the congress office ----------------------------------------------------------------------

/// Record the deputy's feedback receipt (回执) on a handler's reply.
#[utoipa::path(post, path = "/v1/proposals/{key}/tasks/{agency}/feedback", tag = tags::CONGRESS_OFFICE,
    params(("key" = ProposalKeyText, Path, description = "The proposal's key"), ("agency" = AgencyCodeText, Path, description = "The agency whose reply the receipt answers"), IdempotencyHeader),
    request_body = FeedbackRequest,
    responses((status = 200, body = WriteOutcome), WriteErrors), security(("bearer" = [])))]
pub async fn record_feedback(
    State(s): State<Service>,
    p: Principal,
    key: Key,
    path: On<(ProposalKey, AgencyCode)>,
    body: With<FeedbackRequest>,
) -> Answer {
    let (id, (proposal, agency), r) = admit(&p, "record_feedback", key, path, body)?;
    let body = Body::RecordFeedback {
        agency,
        feedback: Feedback {
            satisfaction: r.satisfaction.into(),
            comments: r.comments,
            received_on: r.received_on,
        },
    };
    send(&s, &p, id, proposal, r.occurred_at, body).await
}
