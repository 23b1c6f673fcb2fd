"""Alembic environment of the partner_gateway (runs on PostgreSQL and SQLite)."""

import partner_gateway.deliveries.models
import partner_gateway.inbound.models
import partner_gateway.partners.models
import partner_gateway.signal_files.models  # noqa: F401
from partner_gateway.db import Base
from service_kit.migrations import run_env

run_env(Base.metadata)
