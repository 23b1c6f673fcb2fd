"""Seeding the registry from a YAML file at API start-up (GATEWAY_PARTNERS_SEED_FILE).

Idempotent: a missing partner or subscription is created, an existing one is left as it is. Secrets are never
overwritten from the file (a changed secret in the file is logged and ignored; rotate through the API), so a
redeployment can never silently cut a partner off. `${NAME}` in a value is read from the environment, so the
file itself can be committed without secrets (deploy/partners.example.yaml).
"""

import logging
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.ext.asyncio import AsyncSession

from partner_gateway.partners import service
from partner_gateway.partners.repository import PartnerRepository
from partner_gateway.partners.schemas import PartnerCreate, SubscriptionCreate
from service_kit.clock import Clock

log = logging.getLogger(__name__)

_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


class SeedError(ValueError):
    """The seed file cannot be applied; the API refuses to start rather than run with half a registry."""


class SeedPartner(PartnerCreate):
    model_config = ConfigDict(extra="forbid")

    subscriptions: list[SubscriptionCreate] = Field(default_factory=list)


class SeedFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    partners: list[SeedPartner] = Field(default_factory=list)


@dataclass
class SeedReport:
    created_partners: list[str] = field(default_factory=list)
    created_subscriptions: list[str] = field(default_factory=list)
    secrets_not_overwritten: list[str] = field(default_factory=list)


def _expand(value: Any, environ: dict[str, str]) -> Any:
    if isinstance(value, str):

        def lookup(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in environ:
                raise SeedError(f"the seed file names ${{{name}}}, which is not set in the environment")
            return environ[name]

        return _VARIABLE.sub(lookup, value)
    if isinstance(value, list):
        return [_expand(item, environ) for item in value]
    if isinstance(value, dict):
        return {key: _expand(item, environ) for key, item in value.items()}
    return value


def load_seed(path: Path, environ: dict[str, str] | None = None) -> SeedFile:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as error:
        raise SeedError(f"cannot read the seed file {path}: {error}") from None
    expanded = _expand(raw, dict(os.environ) if environ is None else environ)
    try:
        return SeedFile.model_validate(expanded)
    except ValueError as error:
        # Field names and messages only: pydantic's input values could be secrets.
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in getattr(error, "errors", lambda: [])()
        )
        raise SeedError(f"the seed file {path} is not valid: {problems or 'unreadable'}") from None


async def apply_seed(session: AsyncSession, *, seed: SeedFile, clock: Clock) -> SeedReport:
    """Create what is missing; never commits."""
    report = SeedReport()
    repository = PartnerRepository(session)
    for entry in seed.partners:
        partner = await repository.get(entry.id)
        if partner is None:
            partner = await service.register_partner(
                session, request=PartnerCreate.model_validate(entry.model_dump(exclude={"subscriptions"})), clock=clock
            )
            report.created_partners.append(partner.id)
        elif entry.outbound_secret != partner.outbound_secret or (
            entry.inbound_secret is not None and entry.inbound_secret != partner.inbound_secret
        ):
            log.warning("seed: partner %s has other secrets than the seed file; not overwritten", partner.id)
            report.secrets_not_overwritten.append(partner.id)
        existing = {(s.callback_url, frozenset(s.event_types)) for s in await repository.subscriptions_of(partner.id)}
        for wanted in entry.subscriptions:
            if (str(wanted.callback_url), frozenset(wanted.event_types)) in existing:
                continue
            subscription = await service.subscribe(session, partner_id=partner.id, request=wanted, clock=clock)
            await session.flush()
            report.created_subscriptions.append(subscription.id)
    return report
