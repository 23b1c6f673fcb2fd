"""Imports every table of the notifier, so Alembic and the tests see the whole schema on Base.metadata."""

import notifier.notifications.models  # noqa: F401
from notifier.db import Base

metadata = Base.metadata
