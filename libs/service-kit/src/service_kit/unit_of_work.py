"""The unit of work of an API request: one session dependency for every service.

`SessionDep` is the request's one transaction. It commits after the endpoint returns and *before* the response
is sent (`scope="function"`), so a commit that fails is answered 500, never 2xx; an error in the endpoint rolls
back. The app keeps its session factory in `app.state.session_factory` (service_kit.app's lifespan sets it).
Services and repositories never commit: this dependency does.
"""

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from service_kit.db import session_scope

__all__ = ["SessionDep", "get_session"]


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """The request's one transaction: committed after the endpoint returns, rolled back on error."""
    async for session in session_scope(request.app.state.session_factory):
        yield session


# scope="function": FastAPI's default ("request") would run the commit after the response has been sent.
SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]
