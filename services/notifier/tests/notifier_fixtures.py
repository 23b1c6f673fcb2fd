"""Made-up households for the notifier's tests (importable: the root pyproject puts this folder on the path).

Never a real person: the notifier itself knows only the households case-api records."""

from datetime import date

from notifier.templating.context import Household

# Every fact a message may name, so each template shows all it can say.
MADE_UP_HOUSEHOLD = Household(
    first_name="Jelle",
    full_name="Jelle Testhuis",
    address_lines=("Proefstraat 1", "8911 AB Proefdam"),
    email="jelle.testhuis@example.invalid",
    mobile="+31 6 00000000",
    eviction_date=date(2026, 4, 14),
    storage_place="Opslag Proefdam, Magazijnweg 7, Proefdam",
    storage_reference="OPS-2026-0042",
    retention_end=date(2026, 7, 14),
    housing_address="Wachtstraat 3, Proefdam",
    objection_end=date(2026, 5, 26),
    extra={"granted": True},
)
