"""`python -m partner_gateway.migrate`: bring the database to the newest schema (the prestart step)."""

from partner_gateway.config import get_settings
from service_kit.migrations import upgrade_to_head

SCRIPT_LOCATION = "partner_gateway:migrations"


def main() -> None:
    upgrade_to_head(SCRIPT_LOCATION, get_settings().effective_database_url)


if __name__ == "__main__":
    main()
