"""Households: created from what a signal or a caseworker tells, read with the BSN masked (R15)."""

import uuid
from datetime import date

from case_api.context import Context
from case_api.households.models import Household, Member, is_minor, normalise_address_key
from case_api.households.schemas import HouseholdIn, HouseholdRead, MemberIn, MemberRead
from service_kit.auth import Role

# R15: only the debt counsellor works with the full BSN (debt arrangements need it); everyone else sees it masked.
ROLES_SEEING_FULL_BSN = frozenset({Role.debt_counsellor})


def display_postcode(postcode: str) -> str:
    """A postcode written as 8911AB or 8911 AB, as 8911 AB."""
    compact = postcode.replace(" ", "")
    return compact[:4] + " " + compact[4:]


def new_member(member: MemberIn, *, position: int) -> Member:
    """One member as a new row at `position` in the household's order."""
    return Member(
        id=str(uuid.uuid4()),
        position=position,
        role=member.role,
        initials=member.initials,
        given_name=member.given_name,
        surname_prefix=member.surname_prefix,
        surname=member.surname,
        birth_date=member.birth_date,
    )


def new_members(request: HouseholdIn) -> list[Member]:
    """The request's members as new rows, in its order."""
    return [new_member(member, position=position) for position, member in enumerate(request.members)]


def build_household(
    ctx: Context, request: HouseholdIn, *, by_staff: bool = False, reported_minors: int | None = None
) -> Household:
    household = Household(
        id=str(uuid.uuid4()),
        street=request.street,
        house_number=request.house_number,
        house_number_suffix=request.house_number_suffix,
        postcode=display_postcode(request.postcode),
        city=request.city,
        address_key=normalise_address_key(request.postcode, request.house_number, request.house_number_suffix),
        mail_address=request.mail_address,
        email=request.email,
        mobile=request.mobile,
        preferred_channel=request.preferred_channel,
        language=request.language,
        bsn_token=ctx.vault.encrypt(request.bsn) if request.bsn else None,
        bsn_index=ctx.vault.blind_index(request.bsn) if request.bsn else None,
        created_at=ctx.clock.now(),
        members=new_members(request),
        members_by_staff=by_staff,
        reported_minors=reported_minors,
        version=1,
    )
    ctx.session.add(household)
    return household


def has_minors(household: Household, on: date) -> bool:
    return minors_count(household, on) > 0


def minors_count(household: Household, on: date) -> int:
    """The minors of the members' birth dates; while staff have not recorded the members, at least as many as a
    partner reported (staff data wins once there is any, ADR 0013)."""
    recorded = sum(is_minor(member.birth_date, on) for member in household.members)
    return recorded if household.members_by_staff else max(recorded, household.reported_minors or 0)


def read_household(ctx: Context, household: Household) -> HouseholdRead:
    today = ctx.today()
    bsn = None
    if household.bsn_token:
        plain = ctx.vault.decrypt(household.bsn_token)
        bsn = plain if ctx.principal.has_role(*ROLES_SEEING_FULL_BSN) else ctx.vault.mask(plain)
    return HouseholdRead(
        id=household.id,
        street=household.street,
        house_number=household.house_number,
        house_number_suffix=household.house_number_suffix,
        postcode=household.postcode,
        city=household.city,
        mail_address=household.mail_address,
        email=household.email,
        mobile=household.mobile,
        preferred_channel=household.preferred_channel,
        language=household.language,
        bsn=bsn,
        members=[
            MemberRead(
                id=member.id,
                role=member.role,
                initials=member.initials,
                given_name=member.given_name,
                surname_prefix=member.surname_prefix,
                surname=member.surname,
                birth_date=member.birth_date,
                minor=is_minor(member.birth_date, today),
            )
            for member in household.members
        ],
        version=household.version,
        reported_minors=household.reported_minors,
        members_by_staff=household.members_by_staff,
    )
