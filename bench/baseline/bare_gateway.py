"""The baseline of bench/gateway.py's inbound figure: a bare FastAPI endpoint that stores the raw body with the
same driver (SQLAlchemy async on asyncpg), no signature, no validation. `uvicorn --factory bare_gateway:create_app`."""

import os
import uuid
from datetime import UTC, datetime

from fastapi import FastAPI, Request
from sqlalchemy import text

from service_kit.db import make_engine


def create_app() -> FastAPI:
    engine = make_engine(os.environ["BARE_DATABASE_URL"])
    app = FastAPI()

    @app.post("/bare/messages", status_code=202)
    async def store(request: Request) -> dict[str, str]:
        body = (await request.body()).decode()
        message_id = str(uuid.uuid4())
        async with engine.begin() as connection:
            await connection.execute(
                text("INSERT INTO bare_message (id, body, created_at) VALUES (:id, :body, :at)"),
                {"id": message_id, "body": body, "at": datetime.now(UTC)},
            )
        return {"message_id": message_id}

    return app
