"""`make migration SERVICE=case-api MESSAGE="add signals"`: autogenerate the next Alembic revision.

The models are compared with a scratch SQLite database migrated to head; the revision gets the next
four-digit id, and is formatted with ruff. Review it, and let the migration tests run it on both databases.
"""

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

from alembic import command
from alembic.script import ScriptDirectory

from service_kit.migrations import alembic_config, upgrade_to_head

PACKAGES = {"case-api": "case_api", "notifier": "notifier", "partner-gateway": "partner_gateway"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make migration", description=__doc__)
    parser.add_argument("service", choices=sorted(PACKAGES))
    parser.add_argument("message")
    args = parser.parse_args(argv)
    script_location = f"{PACKAGES[args.service]}:migrations"
    with tempfile.TemporaryDirectory() as scratch:
        url = f"sqlite+aiosqlite:///{Path(scratch) / 'scratch.sqlite3'}"
        upgrade_to_head(script_location, url)
        config = alembic_config(script_location, url)
        heads = ScriptDirectory.from_config(config).get_heads()
        next_id = f"{max((int(head) for head in heads), default=0) + 1:04d}"
        script = command.revision(config, message=args.message, autogenerate=True, rev_id=next_id)
    path = getattr(script, "path", None)
    if path:
        subprocess.run([sys.executable, "-m", "ruff", "format", path], check=False)
        subprocess.run([sys.executable, "-m", "ruff", "check", "--fix", "--quiet", path], check=False)
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
