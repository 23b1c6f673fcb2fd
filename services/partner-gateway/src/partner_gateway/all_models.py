"""Imports every table of the partner gateway, so Alembic and the tests see the whole schema on Base.metadata."""

import partner_gateway.deliveries.models
import partner_gateway.inbound.models
import partner_gateway.inbound.rate_limit
import partner_gateway.partners.models
import partner_gateway.signal_files.models  # noqa: F401
from partner_gateway.db import Base

metadata = Base.metadata
