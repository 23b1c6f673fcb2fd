"""What the notifier needs to inform a household, read at send time with its service token (contract.md: events
are thin; a consumer that needs personal data asks case-api at the moment of use, and that read is logged, R17).

Names and addresses are given as a letter is addressed: the first tenant's name, the home address in two lines
(none once the eviction was executed: the household no longer lives there), and a separate mail address split
into lines. The facts a message may name come with it: the eviction date, where stored goods are, under which
reference and until when (R14), and whether OCO is still to be offered (R8).
"""

import re

from case_api.audit.models import Operation
from case_api.cases.models import Case, Stage
from case_api.cases.repository import CaseRepository
from case_api.cases.service import INFORMING_HOUSEHOLD, load_case
from case_api.context import Context
from case_api.errors import Gone
from case_api.households.models import Household, Member, MemberRole
from case_api.notification_contact.repository import NotificationContactRepository
from case_api.notification_contact.schemas import NotificationContact

# Stages a case reaches only through an executed eviction.
AFTER_EVICTION = frozenset({Stage.evicted, Stage.aftercare})
# Who a message is addressed to, in this order: the tenant, a co-tenant, then any adult member recorded.
ADDRESSEE_ROLES = (MemberRole.tenant, MemberRole.co_tenant, MemberRole.other)
# A mail address written on one line separates its lines with commas or semicolons.
_LINE_BREAK = re.compile(r"\s*(?:\r?\n|;|,)\s*")


async def read_notification_contact(ctx: Context, *, case_id: str) -> NotificationContact:
    """404 for an unknown case, 410 when its personal data was erased (R18); logged as a read (R17)."""
    case = await load_case(ctx, case_id)
    if case.erased_at is not None:
        raise Gone(
            f"the personal data of case {case_id} was erased at the end of its retention period (R18)",
            field="case_id",
        )
    household = await CaseRepository(ctx.session).household(case.household_id)
    repository = NotificationContactRepository(ctx.session)
    evicted = await _evicted(repository, case)
    stored = await repository.goods_in_storage(case.id)
    offer_oco = not await repository.oco_answered(case.id)
    ctx.log_processing(activity=INFORMING_HOUSEHOLD, case_id=case.id, operation=Operation.read)
    addressee = _addressee(household.members)
    full_name = _full_name(addressee) if addressee else ""
    return NotificationContact(
        case_id=case.id,
        first_name=(addressee.given_name.strip() if addressee else "") or full_name,
        full_name=full_name,
        address_lines=[] if evicted else home_address_lines(household),
        mail_address_lines=mail_address_lines(household.mail_address),
        email=household.email,
        mobile=household.mobile,
        preferred_channel=household.preferred_channel,
        language=household.language,
        evicted=evicted,
        team=case.team,
        eviction_date=case.eviction_date,
        storage_place=stored.storage_place if stored else None,
        storage_reference=stored.storage_reference if stored else None,
        retention_end=stored.retention_ends_on if stored else None,
        # Neither is recorded by case-api yet: the temporary-housing decision (R13) holds no address or term.
        housing_address=None,
        objection_end=None,
        offer_oco=offer_oco,
    )


async def _evicted(repository: NotificationContactRepository, case: Case) -> bool:
    return case.stage in AFTER_EVICTION or await repository.eviction_executed(case.id)


def _addressee(members: list[Member]) -> Member | None:
    """The first member of the first role of ADDRESSEE_ROLES that the household has (members are in order)."""
    for role in ADDRESSEE_ROLES:
        for member in members:
            if member.role is role:
                return member
    return members[0] if members else None


def _full_name(member: Member) -> str:
    first = member.given_name.strip() or member.initials.strip()
    return " ".join(part for part in (first, member.surname_prefix.strip(), member.surname.strip()) if part)


def home_address_lines(household: Household) -> list[str]:
    """["Proefstraat 12A", "8911 AB Leeuwarden"]; a one-letter suffix is written against the number."""
    suffix = household.house_number_suffix.strip()
    number = household.house_number.strip()
    if suffix:
        number += suffix if len(suffix) == 1 and suffix.isalpha() else f" {suffix}"
    street = f"{household.street.strip()} {number}".strip()
    place = f"{household.postcode.strip()} {household.city.strip()}".strip()
    return [line for line in (street, place) if line]


def mail_address_lines(mail_address: str | None) -> list[str]:
    """A mail address as written, one line per line (or per comma or semicolon on a single line); [] when none."""
    if not mail_address:
        return []
    return [line for line in _LINE_BREAK.split(mail_address.strip()) if line]
