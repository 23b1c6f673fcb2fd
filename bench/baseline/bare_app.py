"""The baseline of bench/case_api.py: a bare FastAPI app doing one insert or one select with the same driver
(SQLAlchemy async on asyncpg), no auth, no rules, no outbox. `uvicorn --factory bare_app:create_app`."""

import os
import uuid
from datetime import UTC, datetime

from fastapi import FastAPI
from sqlalchemy import text

from service_kit.db import make_engine


def create_app() -> FastAPI:
    engine = make_engine(os.environ["BARE_DATABASE_URL"])
    app = FastAPI()

    @app.post("/bare/cases/{case_id}/write", status_code=201)
    async def write(case_id: str) -> dict[str, str]:
        async with engine.begin() as connection:
            await connection.execute(
                text("INSERT INTO bare_write (id, case_id, created_at) VALUES (:id, :case_id, :at)"),
                {"id": str(uuid.uuid4()), "case_id": case_id, "at": datetime.now(UTC)},
            )
        return {"case_id": case_id}

    @app.get("/bare/cases/{case_id}")
    async def read(case_id: str) -> dict[str, object]:
        async with engine.connect() as connection:
            row = (
                await connection.execute(text('SELECT id, team, stage FROM "case" WHERE id = :id'), {"id": case_id})
            ).one()
        return {"id": row.id, "team": row.team, "stage": row.stage}

    return app
