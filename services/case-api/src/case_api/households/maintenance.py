"""Household maintenance: a caseworker replaces what is known of the case's household (members with their birth
dates and roles, contact details, mail address, language, preferred channel, BSN). A change of minors recomputes
`has_minors`, the case's priority and its tasks (R10) in the same transaction; every change publishes
household.updated with no personal data (which parts changed, minors yes/no, language, reachable channels)."""

from case_api.audit.models import Operation
from case_api.cases.models import Case, Stage
from case_api.cases.repository import CaseRepository
from case_api.cases.service import CASE_FILE, compute_priority, load_case
from case_api.context import Context
from case_api.errors import Gone
from case_api.events import emit
from case_api.households.models import Channel, Household, normalise_address_key
from case_api.households.schemas import HouseholdIn, HouseholdRead
from case_api.households.service import display_postcode, has_minors, new_members, read_household
from case_api.tasks.service import recompute_tasks
from service_kit.errors import Conflict


async def read_case_household(ctx: Context, *, case_id: str) -> HouseholdRead:
    case = await load_case(ctx, case_id)
    household = await CaseRepository(ctx.session).household(case.household_id)
    ctx.log_processing(activity=CASE_FILE, case_id=case.id, operation=Operation.read)
    return read_household(ctx, household)


def reachable_channels(household: Household) -> list[str]:
    """The channels with an address (never the addresses); a letter always reaches the home or mail address."""
    channels = [Channel.letter.value]
    if household.mobile:
        channels += [Channel.sms.value, Channel.phone.value]
    if household.email:
        channels.append(Channel.email.value)
    return sorted(channels)


def _members_of(household: Household) -> list[tuple[object, ...]]:
    return [(m.role, m.initials, m.given_name, m.surname_prefix, m.surname, m.birth_date) for m in household.members]


async def update_case_household(ctx: Context, *, case_id: str, request: HouseholdIn) -> HouseholdRead:
    """Replace the household of the case with `request` (409 for a closed case, 410 once erased)."""
    case = await load_case(ctx, case_id, for_update=True)
    if case.erased_at is not None:
        raise Gone(f"the personal data of case {case_id} was erased (R18)", field="case_id")
    if case.stage is Stage.closed:
        raise Conflict("the case is closed: its household is no longer kept", field="case_id")
    household = await CaseRepository(ctx.session).household(case.household_id)
    changed = _apply(ctx, household, request)
    if changed:
        await _after_change(ctx, case=case, household=household, changed=changed)
    return read_household(ctx, household)


def _apply(ctx: Context, household: Household, request: HouseholdIn) -> list[str]:
    changed: list[str] = []
    address = (request.street, request.house_number, request.house_number_suffix, display_postcode(request.postcode))
    if (*address, request.city) != (
        household.street,
        household.house_number,
        household.house_number_suffix,
        household.postcode,
        household.city,
    ):
        household.street, household.house_number, household.house_number_suffix, household.postcode = address
        household.city = request.city
        household.address_key = normalise_address_key(
            request.postcode, request.house_number, request.house_number_suffix
        )
        changed.append("address")
    if request.mail_address != household.mail_address:
        household.mail_address = request.mail_address
        changed.append("mail_address")
    if (request.mobile, request.email) != (household.mobile, household.email):
        household.mobile, household.email = request.mobile, request.email
        changed.append("contact")
    if request.preferred_channel != household.preferred_channel:
        household.preferred_channel = request.preferred_channel
        changed.append("preferred_channel")
    if request.language != household.language:
        household.language = request.language
        changed.append("language")
    bsn_index = ctx.vault.blind_index(request.bsn) if request.bsn else None
    if bsn_index != household.bsn_index:
        household.bsn_token = ctx.vault.encrypt(request.bsn) if request.bsn else None
        household.bsn_index = bsn_index
        changed.append("bsn")
    wanted = [(m.role, m.initials, m.given_name, m.surname_prefix, m.surname, m.birth_date) for m in request.members]
    if wanted != _members_of(household):
        household.members = new_members(request)
        changed.append("members")
    return changed


async def _after_change(ctx: Context, *, case: Case, household: Household, changed: list[str]) -> None:
    await ctx.session.flush()  # the old members go before anything reads the household again
    today = ctx.today()
    minors = has_minors(household, today)
    case.has_minors = minors
    case.priority = compute_priority(
        has_minors=minors, crisis=case.crisis, consecutive=case.consecutive, multiple=case.multiple
    )
    case.updated_at = ctx.clock.now()
    ctx.log_processing(activity=CASE_FILE, case_id=case.id, operation=Operation.write)
    emit(
        ctx,
        case=case,
        event="household.updated",
        data={
            "household_id": household.id,
            "has_minors": minors,
            "priority": case.priority.value,
            "language": household.language.value,
            "reachable_channels": reachable_channels(household),
            "changed": changed,
        },
    )
    await recompute_tasks(ctx, case=case)  # R10: a child-rights task for a threatened or scheduled eviction now
