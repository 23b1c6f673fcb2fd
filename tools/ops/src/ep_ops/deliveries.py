"""`ep-ops deliveries resend`: a partner's given-up deliveries go back to pending, due now, with a fresh retry
schedule (their attempt numbers go on rising); the delivery worker sends them in order per case again
(docs/operations.md, "A partner's endpoint")."""

from datetime import UTC, datetime

from sqlalchemy import select, update

from ep_ops.errors import OpsError
from ep_ops.output import Report
from partner_gateway.config import Settings
from partner_gateway.deliveries.models import Delivery, DeliveryStatus
from partner_gateway.partners.models import Partner
from service_kit.db import make_engine, make_session_factory


async def resend(
    settings: Settings,
    *,
    partner_id: str,
    status: DeliveryStatus = DeliveryStatus.gave_up,
    since: datetime | None = None,
    dry_run: bool = False,
    now: datetime | None = None,
) -> Report:
    """Re-queue the partner's deliveries in `status` (created at or after `since`) in one transaction."""
    if status is DeliveryStatus.delivered:
        raise OpsError("delivered deliveries are not resent: the partner acknowledged them")
    now = now or datetime.now(UTC)
    engine = make_engine(settings.effective_database_url)
    try:
        async with make_session_factory(engine)() as session, session.begin():
            if await session.get(Partner, partner_id) is None:
                raise OpsError(f"no partner {partner_id!r} is registered in the gateway")
            query = select(Delivery).where(Delivery.partner_id == partner_id, Delivery.status == status)
            if since is not None:
                query = query.where(Delivery.created_at >= since)
            found = list((await session.scalars(query.order_by(Delivery.case_id, Delivery.sequence))).all())
            rows = [
                {
                    "delivery": delivery.id,
                    "case_id": delivery.case_id,
                    "event_type": delivery.event_type,
                    "attempts": delivery.attempts,
                    "last_status_code": delivery.last_status_code,
                    "created_at": delivery.created_at,
                }
                for delivery in found
            ]
            if found and not dry_run:
                # As the registry's replay does: attempt numbers keep rising (the delivery log is keyed by delivery
                # and attempt number, so a number used again would collide); the retry schedule starts again from
                # the attempts made so far (schedule_start), and the reason it was given up is gone.
                await session.execute(
                    update(Delivery)
                    .where(Delivery.id.in_([delivery.id for delivery in found]))
                    .values(
                        status=DeliveryStatus.pending,
                        next_attempt_at=now,
                        schedule_start=Delivery.attempts,
                        gave_up_reason=None,
                    )
                    .execution_options(synchronize_session=False)
                )
    finally:
        await engine.dispose()
    verb = "would re-queue" if dry_run else "re-queued"
    return Report(
        columns=["delivery", "case_id", "event_type", "attempts", "last_status_code", "created_at"],
        rows=rows,
        summary=f"{verb} {len(rows)} {status.value} delivery(ies) of partner {partner_id}",
        totals={"partner_id": partner_id, "requeued": 0 if dry_run else len(rows), "dry_run": dry_run},
    )
