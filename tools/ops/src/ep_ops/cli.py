"""`ep-ops` (also `python -m ep_ops`): the operator's tools, one subcommand each; tables by default, `--json`
for scripts. Settings come from the services' own environment variables (CASE_API_DATABASE_URL,
GATEWAY_DATABASE_URL, NOTIFIER_KAFKA_BOOTSTRAP_SERVERS, ...), as the services read them.

    ep-ops backlog
    ep-ops lag [--group notifier] [--topic ...]
    ep-ops dlq replay --group notifier [--topic ...] [--limit N] [--dry-run]
    ep-ops deliveries resend --partner ID [--status gave_up] [--since 2026-03-01] [--dry-run]
    ep-ops retention run
    ep-ops token --role team_lead --team team-noord [--minutes 60]
"""

import argparse
import asyncio
import sys
from collections.abc import Coroutine, Sequence
from datetime import UTC, datetime
from typing import Any

from case_api.config import Settings as CaseApiSettings
from ep_ops.errors import OpsError
from ep_ops.output import Report
from notifier.config import Settings as NotifierSettings
from partner_gateway.config import Settings as GatewaySettings
from partner_gateway.deliveries.models import DeliveryStatus


def _since(value: str) -> datetime:
    """An ISO date or date-time; without a zone it is UTC."""
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"{value!r} is not an ISO date or date-time (2026-03-01T09:00)") from error
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _positive(value: str) -> int:
    number = int(value)
    if number <= 0:
        raise argparse.ArgumentTypeError("must be a positive number")
    return number


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ep-ops", description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    commands = parser.add_subparsers(dest="command", required=True, metavar="command")

    commands.add_parser("backlog", help="case-api's outbox rows not yet published, and the oldest one's age")

    lag = commands.add_parser("lag", help="consumer lag per partition of the notifier and gateway groups")
    lag.add_argument("--group", action="append", help="a consumer group (default: notifier and partner-gateway)")
    lag.add_argument("--topic", action="append", help="a topic the groups read (default: the case-events topic)")
    lag.add_argument("--bootstrap-servers", help="Kafka (default: the notifier's KAFKA_BOOTSTRAP_SERVERS setting)")

    dlq = commands.add_parser("dlq", help="dead-letter topics").add_subparsers(dest="action", required=True)
    replay = dlq.add_parser("replay", help="republish dead letters onto their original topic, once")
    replay.add_argument("--group", required=True, help="the consumer group whose dead letters to replay")
    replay.add_argument("--topic", help="the original topic (default: the case-events topic)")
    replay.add_argument("--limit", type=_positive, help="replay at most this many")
    replay.add_argument("--dry-run", action="store_true", help="list what would be replayed; send and commit nothing")
    replay.add_argument("--bootstrap-servers", help="Kafka (default: the group's service settings)")

    deliveries = commands.add_parser("deliveries", help="partner deliveries").add_subparsers(
        dest="action", required=True
    )
    resend = deliveries.add_parser("resend", help="re-queue a partner's deliveries: pending, due now")
    resend.add_argument("--partner", required=True, help="the partner id")
    resend.add_argument(
        "--status",
        choices=[DeliveryStatus.gave_up.value, DeliveryStatus.pending.value],
        default=DeliveryStatus.gave_up.value,
        help="which deliveries (default gave_up; pending makes waiting ones due now)",
    )
    resend.add_argument("--since", type=_since, help="only deliveries created at or after this ISO date-time (UTC)")
    resend.add_argument("--dry-run", action="store_true", help="list what would be re-queued; change nothing")

    retention = commands.add_parser("retention", help="case-api retention (R18)").add_subparsers(
        dest="action", required=True
    )
    retention.add_parser("run", help="erase the personal data that is due, now, with the real clock")

    token = commands.add_parser("token", help="print a development bearer token (refused in production)")
    token.add_argument("--role", action="append", default=[], help="a role; repeat it or separate with commas")
    token.add_argument("--team", help="the area team (outreach_worker, debt_counsellor, team_lead need it)")
    token.add_argument("--subject", help="the sub claim (default: dev-<first role>)")
    token.add_argument("--minutes", type=_positive, default=60, help="lifetime in minutes (default 60)")
    return parser


def _settings_of_group(group: str) -> NotifierSettings | GatewaySettings:
    gateway = GatewaySettings()
    return gateway if group == gateway.consumer_group else NotifierSettings()


def _run(coroutine: Coroutine[Any, Any, Report]) -> Report:
    return asyncio.run(coroutine)


def execute(args: argparse.Namespace) -> Report:
    """Run the parsed command; imports stay inside so `ep-ops token` needs neither Kafka nor a database."""
    if args.command == "backlog":
        from ep_ops.outbox import backlog

        return _run(backlog(CaseApiSettings()))
    if args.command == "lag":
        from ep_ops.kafka import lag

        notifier, gateway = NotifierSettings(), GatewaySettings()
        groups = args.group or [notifier.consumer_group, gateway.consumer_group]
        topics = args.topic or [notifier.case_events_topic]
        bootstrap = args.bootstrap_servers or notifier.kafka_bootstrap_servers
        return _run(lag(bootstrap, dict.fromkeys(groups, topics)))
    if args.command == "dlq":
        from ep_ops.kafka import replay_dead_letters

        settings = _settings_of_group(args.group)
        return _run(
            replay_dead_letters(
                args.bootstrap_servers or settings.kafka_bootstrap_servers,
                group=args.group,
                topic=args.topic or settings.case_events_topic,
                limit=args.limit,
                dry_run=args.dry_run,
            )
        )
    if args.command == "deliveries":
        from ep_ops.deliveries import resend

        return _run(
            resend(
                GatewaySettings(),
                partner_id=args.partner,
                status=DeliveryStatus(args.status),
                since=args.since,
                dry_run=args.dry_run,
            )
        )
    if args.command == "retention":
        from ep_ops.retention import run_retention

        return _run(run_retention(CaseApiSettings()))
    if args.command == "token":
        from ep_ops.token import token

        return token(args.role, team=args.team, minutes=args.minutes, subject=args.subject)
    raise OpsError(f"unknown command {args.command}")


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        report = execute(args)
    except OpsError as error:
        print(f"ep-ops: {error}", file=sys.stderr)
        return 2
    if args.json:
        print(report.to_json())
    elif args.command == "token":
        # Only the token on stdout, so TOKEN=$(ep-ops token ...) works; the rest for the person reading.
        row = report.rows[0]
        print(row["token"])
        until = f"{row['expires_at']:%H:%M} UTC"
        print(f"roles {row['roles']}; team {row['team'] or '-'}; valid until {until}", file=sys.stderr)
    else:
        print(report.to_table())
    return 0
