"""Alembic environment of notifier (runs on PostgreSQL and SQLite)."""

from notifier.all_models import metadata
from service_kit.migrations import run_env

run_env(metadata)
