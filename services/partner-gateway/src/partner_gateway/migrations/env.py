"""Alembic environment of partner-gateway (runs on PostgreSQL and SQLite)."""

from partner_gateway.all_models import metadata
from service_kit.migrations import run_env

run_env(metadata)
