"""Alembic environment of the notifier (runs on PostgreSQL and SQLite)."""

import notifier.notifications.models  # noqa: F401 - registers the tables on Base.metadata
from notifier.db import Base
from service_kit.migrations import run_env

run_env(Base.metadata)
