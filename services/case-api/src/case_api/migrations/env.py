"""Alembic environment of case-api (runs on PostgreSQL and SQLite)."""

import case_api.cases.models  # noqa: F401 - registers the tables on Base.metadata
from case_api.db import Base
from service_kit.migrations import run_env

run_env(Base.metadata)
