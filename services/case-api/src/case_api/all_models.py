"""Imports every table of case-api, so Alembic and the tests see the whole schema on Base.metadata."""

import case_api.audit.models
import case_api.belongings.models
import case_api.cases.models
import case_api.children.models
import case_api.contacts.models
import case_api.households.models
import case_api.housing.models
import case_api.idempotency.models
import case_api.legal.models
import case_api.oco.models
import case_api.partner_requests.models
import case_api.signals.models
import case_api.statistics.models
import case_api.support.models
import case_api.tasks.models  # noqa: F401
from case_api.db import Base, OutboxRecord, ProcessedEvent  # noqa: F401  (case-api's own tables of db.py)

metadata = Base.metadata
