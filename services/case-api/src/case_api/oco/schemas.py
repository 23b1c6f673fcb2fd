"""What the REST surface takes and gives for OCO offers, answers and consents."""

from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field

from case_api.households.models import Channel, Language, MemberRole
from case_api.oco.models import (
    ConsentMethod,
    OcoAnswer,
    OcoContactChannel,
    OcoMoment,
    OfferChannel,
    ReferralStatus,
    ReferralStepKind,
)
from case_api.support.models import SupportKind


class OcoOfferCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    moment: OcoMoment
    channels: list[OfferChannel] = Field(
        min_length=1, max_length=6, description="At least two different channels (R8).", examples=[["letter", "sms"]]
    )


class ConsentIn(BaseModel):
    """R9: who gave consent, how, and for what; it is recorded at the moment of the answer."""

    model_config = ConfigDict(extra="forbid")

    given_by: str = Field(min_length=1, max_length=200, description="Who in the household gave consent.")
    method: ConsentMethod
    purpose: str = Field(
        min_length=1, max_length=4000, examples=["referral to MEE Noord for independent client support"]
    )


class OcoAnswerIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    answer: OcoAnswer
    consent: ConsentIn | None = Field(default=None, description="Required when the answer is accepted (R9).")


class OcoConsentRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    case_id: str
    given_by: str
    given_at: datetime
    method: ConsentMethod
    purpose: str
    withdrawn_at: datetime | None
    recorded_by: str


class OcoOfferRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    case_id: str
    moment: OcoMoment
    channels: list[OfferChannel]
    offered_at: datetime
    answer: OcoAnswer | None
    answered_at: datetime | None
    consent_id: str | None
    recorded_by: str


class ReferralStepIn(BaseModel):
    """What MEE Noord reports about a referral (forwarded by the partner gateway, or recorded by staff)."""

    model_config = ConfigDict(extra="forbid")

    kind: ReferralStepKind
    occurred_on: date = Field(
        description="The day of the step: accepted, contacted, support started or ended, declined."
    )
    channel: OcoContactChannel | None = Field(
        default=None, description="contact_made only: how the household was reached."
    )
    support_kind: SupportKind | None = Field(default=None, description="support_started only: the kind of support.")


class ReferralStepRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    kind: ReferralStepKind
    occurred_on: date
    channel: OcoContactChannel | None
    support_kind: SupportKind | None
    support_id: str | None = Field(description="The case's support the step started or ended, if it did.")
    recorded_by: str
    recorded_at: datetime


class OcoReferralRead(BaseModel):
    """A referral to MEE Noord: one per recorded consent, found by its reference (the consent's id, which the
    partner gateway sends MEE Noord as the referral's `reference`), with MEE Noord's steps so far."""

    reference: str = Field(description="The referral's reference: the id of the consent it rests on.")
    case_id: str
    consent_withdrawn: bool
    status: ReferralStatus
    allowed_steps: list[ReferralStepKind] = Field(description="The steps the referral can take next.")
    steps: list[ReferralStepRead]


class OcoOverview(BaseModel):
    """Every offer with its answer, the consents, and what R8 still asks for."""

    case_id: str
    answered: bool = Field(description="The household accepted or declined an offer: offers stop (R8).")
    answer: OcoAnswer | None = Field(description="The household's latest answer.")
    referral_allowed: bool = Field(description="A recorded consent that is not withdrawn exists (R9).")
    due_moments: list[OcoMoment] = Field(description="R8 moments at which an offer is due now.")
    offers: list[OcoOfferRead]
    consents: list[OcoConsentRead]
    referrals: list[OcoReferralRead] = Field(description="The referral of each consent, with MEE Noord's steps.")


class ReferralConsent(BaseModel):
    """The consent the referral rests on (R9): when, how and for what; not who gave it."""

    model_config = ConfigDict(from_attributes=True)

    id: str
    given_at: datetime
    method: ConsentMethod
    purpose: str


class ReferralName(BaseModel):
    """A tenant or co-tenant, by name: the people MEE Noord contacts."""

    model_config = ConfigDict(from_attributes=True)

    role: MemberRole
    initials: str
    given_name: str
    surname_prefix: str
    surname: str


class ReferralAddress(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    street: str
    house_number: str
    house_number_suffix: str
    postcode: str
    city: str


class ReferralContact(BaseModel):
    address: ReferralAddress | None = Field(
        description="The home address; null once the eviction was executed (it no longer reaches the household)."
    )
    mail_address: str | None = Field(description="A separate mail address (postadres), if recorded.")
    email: str | None
    mobile: str | None
    preferred_channel: Channel


class HouseholdComposition(BaseModel):
    adults: int = Field(ge=0)
    minors: int = Field(ge=0, description="Members under 18 today (R10); their names and birth dates stay inside.")


class OcoReferral(BaseModel):
    """What a referral to MEE Noord carries, read by the partner gateway when it sends it, on a recorded consent
    that is not withdrawn (R9): name, contact details, language, household composition, eviction date (the
    contract's list). No BSN, no amounts, no debts, no income, no support details."""

    model_config = ConfigDict(extra="forbid")

    case_id: str
    consent: ReferralConsent
    names: list[ReferralName]
    contact: ReferralContact
    language: Language
    household: HouseholdComposition
    eviction_date: date | None = Field(description="The current eviction date, if one is set.")
