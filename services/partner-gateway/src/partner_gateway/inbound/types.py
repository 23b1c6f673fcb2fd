"""Which message types each partner kind may send (contract.md, "Partner messages")."""

from partner_gateway.partners.models import PartnerKind

MESSAGE_TYPES: dict[PartnerKind, tuple[str, ...]] = {
    PartnerKind.housing_corporation: (
        "arrears.reported",
        "arrears.cleared",
        "payment-arrangement.agreed",
        "second-chance-agreement.offered",
        "eviction.requested",
    ),
    PartnerKind.bailiff: (
        "summons.served",
        "judgment.given",
        "eviction.scheduled",
        "eviction.postponed",
        "eviction.cancelled",
        "eviction.executed",
    ),
    PartnerKind.client_support: (
        "referral.accepted",
        "contact.made",
        "support.started",
        "support.ended",
        "referral.declined",
    ),
    PartnerKind.utility: ("arrears.reported",),
}

ALL_MESSAGE_TYPES = frozenset(name for names in MESSAGE_TYPES.values() for name in names)
