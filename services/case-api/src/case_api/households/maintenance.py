"""Household maintenance: a caseworker replaces what is known of the case's household (members with their birth
dates and roles, contact details, mail address, language, preferred channel, BSN) or adds, changes or removes one
member. Each change takes one path (`after_change`): a change of minors recomputes `has_minors`, the case's
priority and its tasks (R10) in the same transaction, and household.updated is published with no personal data
(which parts changed, minors yes/no, language, reachable channels). Every change raises the household's version,
its ETag: a change sent with `If-Match` is refused with 412 when the household changed since (optional, ADR 0013).
A change that gives the household another open case's address or BSN is refused with 409 naming only that case
(R2, ADR 0013)."""

from case_api.audit.models import Operation
from case_api.cases.models import Case, Stage
from case_api.cases.repository import CaseRepository
from case_api.cases.service import CASE_FILE, compute_priority, load_case
from case_api.context import Context
from case_api.errors import Gone, PreconditionFailed
from case_api.events import emit
from case_api.households.models import Channel, Household, Member, normalise_address_key
from case_api.households.schemas import MAX_MEMBERS, HouseholdIn, HouseholdRead, MemberIn, MemberPatch
from case_api.households.service import display_postcode, has_minors, new_member, new_members, read_household
from case_api.tasks.service import recompute_tasks
from service_kit.errors import Conflict, NotFound


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


def _member_facts(m: Member | MemberIn) -> tuple[object, ...]:
    return (m.role, m.initials, m.given_name, m.surname_prefix, m.surname, m.birth_date)


def _members_of(household: Household) -> list[tuple[object, ...]]:
    return [_member_facts(m) for m in household.members]


def etag(version: int) -> str:
    """The household read's ETag: its version, as a strong entity tag."""
    return f'"{version}"'


async def _household_for_change(ctx: Context, *, case_id: str, if_match: str | None) -> tuple[Case, Household]:
    """The case (locked) and its household, when it may change: 409 for a closed case, 410 once erased, 412 when
    `if_match` names no current version. Without `if_match` the change applies to what is there (ADR 0013)."""
    case = await load_case(ctx, case_id, for_update=True)
    if case.erased_at is not None:
        raise Gone(f"the personal data of case {case_id} was erased (R18)", field="case_id")
    if case.stage is Stage.closed:
        raise Conflict("the case is closed: its household is no longer kept", field="case_id")
    household = await CaseRepository(ctx.session).household(case.household_id)
    if if_match is not None:
        wanted = {tag.strip() for tag in if_match.split(",")}
        if "*" not in wanted and etag(household.version) not in wanted:
            raise PreconditionFailed(
                f"the household changed since it was read (it is at version {household.version} now): read it "
                "again and make the change on what is there",
                field="If-Match",
                etag=etag(household.version),
            )
    return case, household


async def update_case_household(
    ctx: Context, *, case_id: str, request: HouseholdIn, if_match: str | None = None
) -> HouseholdRead:
    """Replace the household of the case with `request`."""
    case, household = await _household_for_change(ctx, case_id=case_id, if_match=if_match)
    changed = _apply(ctx, household, request)
    if changed:
        await _refuse_another_open_case(ctx, household=household, changed=changed)
        await after_change(ctx, case=case, household=household, changed=changed)
    return read_household(ctx, household)


async def add_member(
    ctx: Context, *, case_id: str, member: MemberIn, if_match: str | None = None
) -> tuple[HouseholdRead, str]:
    """Add `member` at the end of the household; the household as it is then and the new member's id."""
    case, household = await _household_for_change(ctx, case_id=case_id, if_match=if_match)
    if len(household.members) >= MAX_MEMBERS:
        raise Conflict(f"a household has at most {MAX_MEMBERS} members", field="members")
    position = max((m.position for m in household.members), default=-1) + 1
    row = new_member(member, position=position)
    household.members.append(row)
    household.members_by_staff = True
    await after_change(ctx, case=case, household=household, changed=["members"])
    return read_household(ctx, household), row.id


async def change_member(
    ctx: Context, *, case_id: str, member_id: str, change: MemberPatch, if_match: str | None = None
) -> HouseholdRead:
    """Change the fields of one member that `change` names (a birth date, a role, a name)."""
    case, household = await _household_for_change(ctx, case_id=case_id, if_match=if_match)
    member = _member(household, member_id)
    before = _member_facts(member)
    for name in change.model_fields_set:
        setattr(member, name, getattr(change, name))
    if _member_facts(member) != before:
        household.members_by_staff = True
        await after_change(ctx, case=case, household=household, changed=["members"])
    return read_household(ctx, household)


async def remove_member(ctx: Context, *, case_id: str, member_id: str, if_match: str | None = None) -> HouseholdRead:
    """Remove one member; a household keeps at least one (the case is about someone)."""
    case, household = await _household_for_change(ctx, case_id=case_id, if_match=if_match)
    member = _member(household, member_id)
    if len(household.members) == 1:
        raise Conflict("a household keeps at least one member: change this one instead", field="member_id")
    household.members.remove(member)
    household.members_by_staff = True
    await after_change(ctx, case=case, household=household, changed=["members"])
    return read_household(ctx, household)


def _member(household: Household, member_id: str) -> Member:
    for member in household.members:
        if member.id == member_id:
            return member
    raise NotFound(f"the household has no member {member_id}", field="member_id")


async def _refuse_another_open_case(ctx: Context, *, household: Household, changed: list[str]) -> None:
    """R2 keeps one open case per household: a new address or BSN of another open case's household is refused
    with 409 naming that case's id only (no address, no name; ADR 0013). The caseworker closes one of them or
    corrects the data."""
    if "address" not in changed and "bsn" not in changed:
        return
    found = await CaseRepository(ctx.session).other_open_case_of(
        household_id=household.id,
        address_key=household.address_key if "address" in changed else None,
        bsn_index=household.bsn_index if "bsn" in changed else None,
    )
    if found is None:
        return
    other, matched = found
    raise Conflict(
        f"another open case (case {other.id}) has a household with this {'BSN' if matched == 'bsn' else 'address'}: "
        "R2 keeps one open case per household; close or correct one of them first",
        field="bsn" if matched == "bsn" else "postcode",
        case_id=other.id,
    )


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
    if [_member_facts(m) for m in request.members] != _members_of(household):
        household.members = new_members(request)
        changed.append("members")
    if not household.members_by_staff:
        # Staff state the whole household: its members' birth dates now decide the minors, not a partner's report.
        household.members_by_staff = True
        if household.reported_minors is not None and "members" not in changed:
            changed.append("members")
    return changed


async def after_change(ctx: Context, *, case: Case, household: Household, changed: list[str]) -> None:
    """What every change of a household does: a new version, has_minors and the priority recomputed, the
    processing log, household.updated without personal data, and the case's tasks (R10) recomputed at once."""
    household.version += 1
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
