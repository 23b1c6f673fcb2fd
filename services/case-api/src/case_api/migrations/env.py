"""Alembic environment of case-api (runs on PostgreSQL and SQLite)."""

from case_api.all_models import metadata
from service_kit.migrations import run_env

run_env(metadata)
