"""OCO by MEE Noord: offers through at least two channels at the R8 moments until the household answers, and
an acceptance only with a recorded consent, the one thing that lets personal data go to MEE Noord (R9)."""

import uuid
from collections.abc import Collection, Mapping, Sequence
from datetime import date, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from case_api.audit.models import Operation
from case_api.cases.models import Stage
from case_api.cases.process import Action
from case_api.cases.repository import CaseRepository
from case_api.cases.service import CASE_FILE, load_case, transition
from case_api.context import Context
from case_api.events import emit
from case_api.households.models import MemberRole, is_minor
from case_api.households.service import minors_count
from case_api.oco.models import (
    NOTIFICATION_MOMENT,
    OcoAnswer,
    OcoConsent,
    OcoMoment,
    OcoOffer,
    OcoReferralStep,
    ReferralStatus,
    ReferralStepKind,
)
from case_api.oco.repository import OcoRepository
from case_api.oco.schemas import (
    HouseholdComposition,
    OcoAnswerIn,
    OcoConsentRead,
    OcoOfferCreate,
    OcoOfferRead,
    OcoOverview,
    OcoReferral,
    OcoReferralRead,
    ReferralAddress,
    ReferralConsent,
    ReferralContact,
    ReferralName,
    ReferralStepIn,
    ReferralStepRead,
)
from case_api.support import service as support_service
from case_api.support.repository import SupportRepository
from case_api.support.schemas import SupportEnd, SupportStart
from service_kit.errors import Conflict, NotFound, Unprocessable

MIN_CHANNELS = 2  # R8: the offer reaches the household through at least two channels
WEEK_BEFORE_DAYS = 7  # R8: the offer is repeated 7 days before the eviction date
AFTER_EVICTION = frozenset({Stage.evicted, Stage.aftercare})
# The processing activity of passing a referral to MEE Noord on the household's consent (R9, R17).
OCO_REFERRAL = "oco-referral"
# Who a referral names: the people MEE Noord contacts. Everyone else in the household is counted, not named.
NAMED_IN_REFERRAL = (MemberRole.tenant, MemberRole.co_tenant)
# The R8 moments in the order a case meets them; an offer at a later moment also covers a missed earlier one.
MOMENT_ORDER = (OcoMoment.threat_started, OcoMoment.date_set, OcoMoment.week_before, OcoMoment.after_eviction)
# The stages in which an offer at each moment makes sense.
STAGES_OF_MOMENT = {
    OcoMoment.threat_started: frozenset({Stage.eviction_threatened, Stage.eviction_scheduled}),
    OcoMoment.date_set: frozenset({Stage.eviction_scheduled}),
    OcoMoment.week_before: frozenset({Stage.eviction_scheduled}),
    OcoMoment.after_eviction: AFTER_EVICTION,
}


def due_oco_moments(
    *, stage: Stage, eviction_date: date | None, today: date, offered: Collection[OcoMoment], answered: bool
) -> list[OcoMoment]:
    """R8: the moment at which an offer is due now, if any (a list, empty when nothing is due).

    Offers stop once the household answers. The moments are: the threat started (summons or a date), the date
    set, 7 days before the date, and once after an eviction. A moment that arrived is due until an offer at it
    or at a later moment was made: a missed earlier moment is covered by the current one's offer."""
    if answered:
        return []
    if stage in AFTER_EVICTION:
        arrived = [OcoMoment.after_eviction]
    elif stage is Stage.eviction_threatened:
        arrived = [OcoMoment.threat_started]
    elif stage is Stage.eviction_scheduled:
        arrived = [OcoMoment.threat_started, OcoMoment.date_set]
        if eviction_date is not None and today >= eviction_date - timedelta(days=WEEK_BEFORE_DAYS):
            arrived.append(OcoMoment.week_before)
    else:
        return []  # no threat (yet), averted or closed: nothing to offer
    current = arrived[-1]
    offered_later = any(MOMENT_ORDER.index(moment) >= MOMENT_ORDER.index(current) for moment in offered)
    return [] if offered_later else [current]


def _answer(offers: Sequence[OcoOffer]) -> OcoAnswer | None:
    """The household's latest answer to any offer."""
    answered = [offer for offer in offers if offer.answer is not None and offer.answered_at is not None]
    if not answered:
        return None
    latest = max(answered, key=lambda offer: (offer.answered_at, offer.id))
    return latest.answer


async def offer_oco(ctx: Context, *, case_id: str, request: OcoOfferCreate) -> OcoOffer:
    case = await load_case(ctx, case_id, for_update=True)
    channels = list(dict.fromkeys(request.channels))  # distinct, in the order given
    if len(channels) < MIN_CHANNELS:
        raise Unprocessable(
            f"an OCO offer goes through at least {MIN_CHANNELS} different channels (R8); got: "
            f"{', '.join(channel.value for channel in channels)}",
            field="channels",
            rule="R8",
        )
    transition(ctx, case, Action.offer_oco)
    if case.stage not in STAGES_OF_MOMENT[request.moment]:
        fitting = ", ".join(stage.value for stage in Stage if stage in STAGES_OF_MOMENT[request.moment])
        raise Conflict(
            f"an offer at moment {request.moment.value} fits a case in stage {fitting}; this case is in "
            f"{case.stage.value}",
            field="moment",
        )
    offer = OcoOffer(
        id=str(uuid.uuid4()),
        case_id=case.id,
        moment=request.moment,
        channels=[channel.value for channel in channels],
        offered_at=ctx.clock.now(),
        recorded_by=ctx.principal.subject,
    )
    OcoRepository(ctx.session).add(offer)
    ctx.log_processing(activity=CASE_FILE, case_id=case.id, operation=Operation.write)
    emit(
        ctx,
        case=case,
        event="oco.offered",
        data={"moment": NOTIFICATION_MOMENT[offer.moment], "channels": offer.channels},
    )
    return offer


async def answer_oco(ctx: Context, *, case_id: str, offer_id: str, request: OcoAnswerIn) -> OcoOffer:
    """Accepted only with the household's consent (R9); declined without one."""
    case = await load_case(ctx, case_id, for_update=True)
    repository = OcoRepository(ctx.session)
    offer = await repository.offer(case_id=case.id, offer_id=offer_id)
    if offer is None:
        raise NotFound(f"no OCO offer {offer_id} in this case", field="offer_id")
    if offer.answer is not None:
        raise Conflict(f"this offer was already answered: {offer.answer.value}", field="offer_id")
    if request.answer is OcoAnswer.accepted and request.consent is None:
        raise Unprocessable(
            "accepting OCO needs the household's consent: who gave it, how, and for what (R9); without it "
            "nothing personal may go to MEE Noord",
            field="consent",
            rule="R9",
        )
    if request.answer is OcoAnswer.declined and request.consent is not None:
        raise Unprocessable("a declined offer carries no consent: leave consent out", field="consent")
    transition(ctx, case, Action.answer_oco)
    offer.answer = request.answer
    offer.answered_at = ctx.clock.now()
    ctx.log_processing(activity=CASE_FILE, case_id=case.id, operation=Operation.write)
    moment = NOTIFICATION_MOMENT[offer.moment]
    if request.consent is None:
        emit(ctx, case=case, event="oco.declined", data={"moment": moment})
        return offer
    consent = OcoConsent(
        id=str(uuid.uuid4()),
        case_id=case.id,
        given_by=request.consent.given_by,
        given_at=ctx.clock.now(),
        method=request.consent.method,
        purpose=request.consent.purpose,
        recorded_by=ctx.principal.subject,
    )
    repository.add(consent)
    await ctx.session.flush()  # the offer refers to the consent row
    offer.consent_id = consent.id
    emit(ctx, case=case, event="oco.accepted", data={"moment": moment, "consent_id": consent.id})
    return offer


async def withdraw_consent(ctx: Context, *, case_id: str, consent_id: str) -> OcoConsent:
    """From now on nothing personal goes to MEE Noord on this consent (R9)."""
    case = await load_case(ctx, case_id, for_update=True)
    consent = await OcoRepository(ctx.session).consent(case_id=case.id, consent_id=consent_id)
    if consent is None:
        raise NotFound(f"no consent {consent_id} in this case", field="consent_id")
    if consent.withdrawn_at is not None:
        raise Conflict(f"this consent was withdrawn at {consent.withdrawn_at.isoformat()}", field="consent_id")
    consent.withdrawn_at = ctx.clock.now()
    case.updated_at = ctx.clock.now()
    ctx.log_processing(activity=CASE_FILE, case_id=case.id, operation=Operation.write)
    return consent


async def read_oco(ctx: Context, *, case_id: str) -> OcoOverview:
    case = await load_case(ctx, case_id)
    repository = OcoRepository(ctx.session)
    offers = await repository.offers(case.id)
    consents = await repository.consents(case.id)
    answer = _answer(offers)
    ctx.log_processing(activity=CASE_FILE, case_id=case.id, operation=Operation.read)
    return OcoOverview(
        case_id=case.id,
        answered=answer is not None,
        answer=answer,
        referral_allowed=any(consent.withdrawn_at is None for consent in consents),
        due_moments=due_oco_moments(
            stage=case.stage,
            eviction_date=case.eviction_date,
            today=ctx.today(),
            offered={offer.moment for offer in offers},
            answered=answer is not None,
        ),
        offers=[OcoOfferRead.model_validate(offer) for offer in offers],
        consents=[OcoConsentRead.model_validate(consent) for consent in consents],
        referrals=_referrals(consents, await repository.referral_steps(case.id)),
    )


async def oco_referral_allowed(session: AsyncSession, case_id: str) -> OcoConsent | None:
    """R9: the consent a referral to MEE Noord with personal data rests on, or None (then only an anonymous
    capacity signal may go). The caller logs its own read of the personal data it then sends (R17)."""
    return await OcoRepository(session).valid_consent(case_id)


async def read_referral(ctx: Context, *, case_id: str, consent_id: str) -> OcoReferral:
    """R9: the referral's details for MEE Noord, read by the partner gateway when it sends the referral (its
    route lets only the gateway through, deps.GatewayContext), on the consent the referral names: 404 for an
    unknown case or consent, 409 when that consent was withdrawn or the case's personal data erased. Every read is
    in the processing log (R17)."""
    case = await load_case(ctx, case_id)
    consent = await OcoRepository(ctx.session).consent(case_id=case.id, consent_id=consent_id)
    if consent is None:
        raise NotFound(f"no consent {consent_id} in this case", field="consentId")
    if consent.withdrawn_at is not None:
        raise Conflict(
            f"the household withdrew this consent at {consent.withdrawn_at.isoformat()}: nothing personal goes to "
            "MEE Noord on it (R9)",
            field="consentId",
        )
    if case.erased_at is not None:
        raise Conflict("the personal data of this case was erased (R18)", field="case_id")
    household = await CaseRepository(ctx.session).household(case.household_id)
    ctx.log_processing(activity=OCO_REFERRAL, case_id=case.id, operation=Operation.read)
    today = ctx.today()
    minors = minors_count(household, today)  # a partner's count while staff have not recorded the members
    return OcoReferral(
        case_id=case.id,
        consent=ReferralConsent.model_validate(consent),
        names=[
            ReferralName.model_validate(member)
            for member in household.members
            if member.role in NAMED_IN_REFERRAL and not is_minor(member.birth_date, today)
        ],
        contact=ReferralContact(
            address=None if case.stage in AFTER_EVICTION else ReferralAddress.model_validate(household),
            mail_address=household.mail_address,
            email=household.email,
            mobile=household.mobile,
            preferred_channel=household.preferred_channel,
        ),
        language=household.language,
        household=HouseholdComposition(adults=len(household.members) - minors, minors=minors),
        eviction_date=case.eviction_date,
    )


# --- MEE Noord's steps on a referral -------------------------------------------------------------------------

# The referral's own process, as data: for each step MEE Noord reports, the statuses it may come from and the
# status it leads to. A referral starts `referred` (the consent was recorded and the gateway sends the referral).
REFERRAL_PROCESS: Mapping[ReferralStepKind, Mapping[ReferralStatus, ReferralStatus]] = {
    ReferralStepKind.accepted: {ReferralStatus.referred: ReferralStatus.accepted},
    ReferralStepKind.contact_made: {
        ReferralStatus.accepted: ReferralStatus.in_contact,
        ReferralStatus.in_contact: ReferralStatus.in_contact,
        ReferralStatus.in_support: ReferralStatus.in_support,
    },
    ReferralStepKind.support_started: {
        ReferralStatus.accepted: ReferralStatus.in_support,
        ReferralStatus.in_contact: ReferralStatus.in_support,
    },
    ReferralStepKind.support_ended: {ReferralStatus.in_support: ReferralStatus.support_ended},
    ReferralStepKind.declined: {
        ReferralStatus.referred: ReferralStatus.declined,
        ReferralStatus.accepted: ReferralStatus.declined,
        ReferralStatus.in_contact: ReferralStatus.declined,
    },
}
# Steps that act on the household's consent: not once it is withdrawn (R9). Ending or declining still may.
ACTING_ON_CONSENT = frozenset(
    {ReferralStepKind.accepted, ReferralStepKind.contact_made, ReferralStepKind.support_started}
)
# The event of each step (schemas/.../oco.referral-*.v1.schema.json) and the name of its date there.
STEP_EVENTS: Mapping[ReferralStepKind, tuple[str, str]] = {
    ReferralStepKind.accepted: ("oco.referral-accepted", "accepted_on"),
    ReferralStepKind.contact_made: ("oco.referral-contact-made", "contacted_on"),
    ReferralStepKind.support_started: ("oco.referral-support-started", "started_on"),
    ReferralStepKind.support_ended: ("oco.referral-support-ended", "ended_on"),
    ReferralStepKind.declined: ("oco.referral-declined", "declined_on"),
}


def referral_status(steps: Sequence[OcoReferralStep]) -> ReferralStatus:
    """Where a referral stands after its steps, in the order recorded."""
    status = ReferralStatus.referred
    for step in steps:
        status = REFERRAL_PROCESS[step.kind][status]
    return status


def allowed_steps(status: ReferralStatus) -> list[ReferralStepKind]:
    return [kind for kind, sources in REFERRAL_PROCESS.items() if status in sources]


def _referral_read(consent: OcoConsent, steps: Sequence[OcoReferralStep]) -> OcoReferralRead:
    status = referral_status(steps)
    return OcoReferralRead(
        reference=consent.id,
        case_id=consent.case_id,
        consent_withdrawn=consent.withdrawn_at is not None,
        status=status,
        allowed_steps=allowed_steps(status),
        steps=[ReferralStepRead.model_validate(step) for step in steps],
    )


def _referrals(consents: Sequence[OcoConsent], steps: Sequence[OcoReferralStep]) -> list[OcoReferralRead]:
    return [_referral_read(consent, [step for step in steps if step.consent_id == consent.id]) for consent in consents]


def _check_step_fields(step: ReferralStepIn) -> None:
    """Each step carries its own facts only: how contact was made, the kind of support started."""
    if step.kind is ReferralStepKind.contact_made and step.channel is None:
        raise Unprocessable("contact_made names the channel the household was reached through", field="channel")
    if step.kind is not ReferralStepKind.contact_made and step.channel is not None:
        raise Unprocessable(f"channel belongs to contact_made, not to {step.kind.value}", field="channel")
    if step.kind is ReferralStepKind.support_started and step.support_kind is None:
        raise Unprocessable("support_started names the kind of support", field="support_kind")
    if step.kind is not ReferralStepKind.support_started and step.support_kind is not None:
        raise Unprocessable(f"support_kind belongs to support_started, not to {step.kind.value}", field="support_kind")


async def record_referral_step(ctx: Context, *, case_id: str, reference: str, step: ReferralStepIn) -> OcoReferralRead:
    """A step MEE Noord reports on the referral `reference` (the consent's id): the referral's process decides
    which step may follow which (409 naming the allowed steps). Support started through the referral starts the
    case's support of that kind unless one runs already; its end ends the support the referral started."""
    _check_step_fields(step)
    if step.occurred_on > ctx.today():
        raise Unprocessable(
            f"occurred_on cannot lie in the future (today is {ctx.today().isoformat()})", field="occurred_on"
        )
    case = await load_case(ctx, case_id, for_update=True)
    repository = OcoRepository(ctx.session)
    consent = await repository.consent(case_id=case.id, consent_id=reference)
    if consent is None:
        raise NotFound(
            f"no referral {reference} in this case (a referral's reference is its consent's id)", field="reference"
        )
    transition(ctx, case, Action.record_oco_referral_step)
    if step.occurred_on < consent.given_at.date():
        raise Unprocessable(
            f"occurred_on lies before the referral's consent ({consent.given_at.date().isoformat()})",
            field="occurred_on",
        )
    if step.kind in ACTING_ON_CONSENT and consent.withdrawn_at is not None:
        raise Conflict(
            f"the household withdrew the consent of this referral at {consent.withdrawn_at.isoformat()}: "
            f"{step.kind.value} cannot be recorded on it any more (R9)",
            field="reference",
        )
    earlier = [other for other in await repository.referral_steps(case.id) if other.consent_id == consent.id]
    status = referral_status(earlier)
    if status not in REFERRAL_PROCESS[step.kind]:
        allowed = allowed_steps(status)
        raise Conflict(
            f"{step.kind.value} is not possible for a referral that is {status.value}; allowed: "
            f"{', '.join(kind.value for kind in allowed) or 'nothing (the referral is over)'}",
            field="kind",
            referral_status=status.value,
            allowed_steps=[kind.value for kind in allowed],
        )
    record = OcoReferralStep(
        id=str(uuid.uuid4()),
        case_id=case.id,
        consent_id=consent.id,
        position=len(earlier) + 1,
        kind=step.kind,
        occurred_on=step.occurred_on,
        channel=step.channel,
        support_kind=step.support_kind,
        recorded_by=ctx.principal.subject,
        recorded_at=ctx.clock.now(),
    )
    if step.kind is ReferralStepKind.support_started:
        record.support_id = await _start_support(ctx, case_id=case.id, step=step)
    elif step.kind is ReferralStepKind.support_ended:
        record.support_id = await _end_support(ctx, case_id=case.id, earlier=earlier, ended_on=step.occurred_on)
    repository.add(record)
    ctx.log_processing(activity=CASE_FILE, case_id=case.id, operation=Operation.write)
    event, date_name = STEP_EVENTS[step.kind]
    data: dict[str, object] = {"consent_id": consent.id, date_name: step.occurred_on.isoformat()}
    if step.channel is not None:
        data["channel"] = step.channel.value
    if step.support_kind is not None:
        data["kind"] = step.support_kind.value
    if record.support_id is not None:
        data["support_id"] = record.support_id
    emit(ctx, case=case, event=event, data=data)
    await ctx.session.flush()
    return _referral_read(consent, [*earlier, record])


async def _start_support(ctx: Context, *, case_id: str, step: ReferralStepIn) -> str | None:
    """The case's support of the step's kind, started on its day (support.started); None when one of that kind
    runs already (MEE Noord's report is recorded on the referral, the running support stays as it is)."""
    assert step.support_kind is not None  # _check_step_fields
    if step.support_kind in await SupportRepository(ctx.session).active_kinds(case_id):
        return None
    started = await support_service.start_support(
        ctx, case_id=case_id, request=SupportStart(kind=step.support_kind, started_on=step.occurred_on)
    )
    await ctx.session.flush()  # the step refers to the support's row
    return started.id


async def _end_support(ctx: Context, *, case_id: str, earlier: Sequence[OcoReferralStep], ended_on: date) -> str | None:
    """The end of the support the referral started, if it did and it still runs (support.ended)."""
    started = next((step for step in reversed(earlier) if step.kind is ReferralStepKind.support_started), None)
    if started is None or started.support_id is None:
        return None
    trajectory = await SupportRepository(ctx.session).get(case_id=case_id, support_id=started.support_id)
    if trajectory is None or trajectory.ended_on is not None:
        return None
    await support_service.end_support(
        ctx,
        case_id=case_id,
        support_id=trajectory.id,
        request=SupportEnd(ended_on=ended_on, end_reason="ended as MEE Noord reported on the referral"),
    )
    return trajectory.id


async def list_referrals(ctx: Context, *, case_id: str) -> list[OcoReferralRead]:
    case = await load_case(ctx, case_id)
    repository = OcoRepository(ctx.session)
    ctx.log_processing(activity=CASE_FILE, case_id=case.id, operation=Operation.read)
    return _referrals(await repository.consents(case.id), await repository.referral_steps(case.id))
