"""Signal files through the real app on real PostgreSQL with a set clock: both separators and the decimal comma,
rows refused naming their column while the others are taken, a file sent twice, who may send one, forged and
oversized files, and a file of 100,000 rows. Every row is made up (fictitious names, example.invalid addresses)."""

import json
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from devinfra.devkey import DevKey
from partner_gateway.config import Settings
from partner_gateway.inbound.case_api import CaseApi
from partner_gateway.inbound.models import InboundMessage, InboundStatus
from partner_gateway.main import create_app
from partner_gateway.signal_files.parsing import COLUMNS
from partner_gateway.workers.inbound import process_due
from service_kit.clock import FixedClock

pytestmark = pytest.mark.postgres

MAX_BYTES = 40 * 1024 * 1024


@pytest.fixture
async def app(database_url: str, clock: FixedClock, dev_key: DevKey) -> AsyncIterator[FastAPI]:
    settings = Settings(
        database_url=database_url, oidc_jwks_url=str(dev_key.jwks_path), signal_file_max_bytes=MAX_BYTES
    )
    app = create_app(settings, clock=clock)
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture
async def client(app: FastAPI, admin: dict[str, str]) -> AsyncIterator[httpx.AsyncClient]:
    # The admin's token registers partners (role admin); the signed uploads ignore it.
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://gateway.test", timeout=120, headers=admin
    ) as client:
        yield client


async def register(client: httpx.AsyncClient, partner_messages: Any, partner_id: str, kind: str) -> str:
    secret: str = partner_messages.new_secret()
    registered = await client.post(
        "/v1/partners",
        json={
            "id": partner_id,
            "name": partner_id,
            "kind": kind,
            "outbound_secret": partner_messages.new_secret(),
            "inbound_secret": secret,
        },
    )
    assert registered.status_code == 201, registered.text
    return secret


@pytest.fixture
async def corporation(client: httpx.AsyncClient, partner_messages: Any) -> tuple[str, str]:
    return "woonproef", await register(client, partner_messages, "woonproef", "housing_corporation")


ROW = {
    "reference": "HUUR-0001",
    "initials": "J.",
    "surname_prefix": "van",
    "surname": "Testhuis",
    "street": "Proefstraat",
    "house_number": "12",
    "house_number_suffix": "a",
    "postcode": "8911 AB",
    "city": "Leeuwarden",
    "email": "j.testhuis@example.invalid",
    "mobile": "0612345678",
    "arrears_amount": "850,50",
    "arrears_since": "2026-09-01",
    "signal_date": "2026-11-02",
    "crisis": "no",
    "consent_given": "yes",
}


def csv_file(rows: list[dict[str, str]], *, separator: str = ";", columns: tuple[str, ...] = COLUMNS) -> str:
    def cell(value: str) -> str:
        return f'"{value}"' if separator in value else value

    lines = [separator.join(columns)]
    lines += [separator.join(cell(row.get(name, "")) for name in columns) for row in rows]
    return "\n".join(lines) + "\n"


def row(number: int, **changes: str) -> dict[str, str]:
    return {**ROW, "reference": f"HUUR-{number:06d}", "house_number": str(number % 999 + 1), **changes}


async def upload(
    client: httpx.AsyncClient,
    partner_id: str,
    secret: str,
    text: str,
    *,
    clock: FixedClock,
    partner_messages: Any,
    content_type: str = "text/csv; charset=utf-8",
) -> httpx.Response:
    headers = partner_messages.signed_headers(secret, text, at=clock.now())
    headers["content-type"] = content_type
    return await client.post(f"/v1/partners/{partner_id}/signal-files", content=text.encode(), headers=headers)


async def stored(app: FastAPI) -> list[InboundMessage]:
    async with app.state.session_factory() as session:
        query = select(InboundMessage).order_by(InboundMessage.created_at, InboundMessage.id)
        return list((await session.scalars(query)).all())


async def test_a_semicolon_file_with_decimal_commas_becomes_arrears_messages_and_a_report(
    app: FastAPI, client: httpx.AsyncClient, clock: FixedClock, corporation: tuple[str, str], partner_messages: Any
) -> None:
    partner_id, secret = corporation
    text = csv_file([row(1), row(2, arrears_amount="1200", crisis="yes", email="", mobile="06 1234 5679")])
    response = await upload(client, partner_id, secret, text, clock=clock, partner_messages=partner_messages)

    assert response.status_code == 201, response.text
    report = response.json()
    assert (report["rows"], report["accepted"], report["rejected"]) == (2, 2, 0)
    assert [(r["row"], r["status"], r["errors"]) for r in report["report"]] == [
        (2, "accepted", []),
        (3, "accepted", []),
    ]
    first, second = await stored(app)
    assert [first.id, second.id] == [r["message_id"] for r in report["report"]]
    assert (first.type, first.reference, first.status) == ("arrears.reported", "HUUR-000001", InboundStatus.received)
    assert first.payload == {
        "initials": "J.",
        "surname_prefix": "van",
        "surname": "Testhuis",
        "street": "Proefstraat",
        "house_number": "2",
        "house_number_suffix": "a",
        "postcode": "8911 AB",
        "city": "Leeuwarden",
        "email": "j.testhuis@example.invalid",
        "mobile": "0612345678",
        "arrears_amount": "850.50",
        "arrears_since": "2026-09-01",
        "signal_date": "2026-11-02",
        "crisis": False,
        "consent_given": True,
    }
    assert (second.payload["arrears_amount"], second.payload["crisis"], second.payload["mobile"]) == (
        "1200.00",
        True,
        "0612345679",
    )
    assert "email" not in second.payload

    path = f"/v1/partners/{partner_id}/signal-files/{report['id']}"
    read = await client.get(path, headers=partner_messages.read_headers(secret, path, at=clock.now()))
    assert read.status_code == 200, read.text
    assert read.json() == report


async def test_a_comma_separated_file_with_quoted_decimal_commas_is_taken(
    app: FastAPI, client: httpx.AsyncClient, clock: FixedClock, corporation: tuple[str, str], partner_messages: Any
) -> None:
    partner_id, secret = corporation
    text = "\ufeff" + csv_file([row(1), row(2, arrears_amount="99.95", postcode="8911ab")], separator=",")
    response = await upload(client, partner_id, secret, text, clock=clock, partner_messages=partner_messages)

    assert response.status_code == 201, response.text
    assert response.json()["accepted"] == 2
    first, second = await stored(app)
    assert (first.payload["arrears_amount"], second.payload["arrears_amount"]) == ("850.50", "99.95")
    assert second.payload["postcode"] == "8911 AB"


async def test_bad_rows_are_rejected_naming_the_column_without_their_values_and_the_others_are_taken(
    app: FastAPI, client: httpx.AsyncClient, clock: FixedClock, corporation: tuple[str, str], partner_messages: Any
) -> None:
    partner_id, secret = corporation
    text = csv_file(
        [
            row(1),
            row(2, postcode="89111 XYZ"),
            row(3, arrears_since="31-09-2026"),
            row(4, arrears_amount="1.250,00"),
            row(5, surname=""),
            row(6, signal_date="2026-02-30", crisis="maybe"),
            row(7),
            row(1),  # the reference of row 2 again
        ]
    )
    text += "HUUR-000008;K.;;Voorbeeld\n"  # a row that stops after the fourth column
    response = await upload(client, partner_id, secret, text, clock=clock, partner_messages=partner_messages)

    assert response.status_code == 201, response.text
    report = response.json()
    assert (report["rows"], report["accepted"], report["rejected"]) == (9, 2, 7)
    by_row = {r["row"]: r for r in report["report"]}
    assert [number for number, r in by_row.items() if r["status"] == "accepted"] == [2, 8]

    def columns(number: int) -> list[str]:
        return [error["column"] for error in by_row[number]["errors"]]

    assert columns(3) == ["postcode"]
    assert columns(4) == ["arrears_since"]
    assert columns(5) == ["arrears_amount"]
    assert columns(6) == ["surname"]
    assert columns(7) == ["signal_date", "crisis"]
    assert columns(9) == ["reference"]
    assert "row 2" in by_row[9]["errors"][0]["message"]
    assert columns(10)[:2] == ["street", "house_number"]
    assert all(r["message_id"] is None for r in report["report"] if r["status"] == "rejected")
    for personal in ("89111 XYZ", "31-09-2026", "1.250,00", "Voorbeeld", "maybe"):
        assert personal not in response.text
    assert [m.reference for m in await stored(app)] == ["HUUR-000001", "HUUR-000007"]


async def test_a_header_without_a_contract_column_is_a_422_naming_it(
    app: FastAPI, client: httpx.AsyncClient, clock: FixedClock, corporation: tuple[str, str], partner_messages: Any
) -> None:
    partner_id, secret = corporation
    columns = tuple(name for name in COLUMNS if name != "postcode")
    text = csv_file([row(1)], columns=columns)
    response = await upload(client, partner_id, secret, text, clock=clock, partner_messages=partner_messages)

    assert response.status_code == 422, response.text
    assert response.json()["field"] == "postcode"
    assert await stored(app) == []


async def test_rows_without_consent_are_taken_and_marked_since_a_signal_needs_no_consent(
    app: FastAPI, client: httpx.AsyncClient, clock: FixedClock, corporation: tuple[str, str], partner_messages: Any
) -> None:
    partner_id, secret = corporation
    text = csv_file([row(1, consent_given="no"), row(2, consent_given="YES"), row(3, consent_given="")])
    response = await upload(client, partner_id, secret, text, clock=clock, partner_messages=partner_messages)

    report = response.json()["report"]
    assert [(r["status"], r["consent_given"]) for r in report] == [
        ("accepted", False),
        ("accepted", True),
        ("rejected", None),
    ]
    assert report[2]["errors"] == [{"column": "consent_given", "message": "is required"}]
    assert [m.payload["consent_given"] for m in await stored(app)] == [False, True]


async def test_the_same_file_twice_gets_the_first_report_and_stores_nothing_new(
    app: FastAPI, client: httpx.AsyncClient, clock: FixedClock, corporation: tuple[str, str], partner_messages: Any
) -> None:
    partner_id, secret = corporation
    text = csv_file([row(1), row(2, postcode="nope")])
    first = await upload(client, partner_id, secret, text, clock=clock, partner_messages=partner_messages)
    again = await upload(client, partner_id, secret, text, clock=clock, partner_messages=partner_messages)

    assert (first.status_code, again.status_code) == (201, 200)
    assert again.headers["webhook-replayed"] == "true"
    assert again.json() == first.json()
    assert len(await stored(app)) == 1


async def test_a_bailiff_may_not_send_a_signal_file_but_a_utility_may(
    app: FastAPI, client: httpx.AsyncClient, clock: FixedClock, partner_messages: Any
) -> None:
    bailiff_secret = await register(client, partner_messages, "deurwaarder-proef", "bailiff")
    utility_secret = await register(client, partner_messages, "energie-proef", "utility")
    text = csv_file([row(1)])

    refused = await upload(
        client, "deurwaarder-proef", bailiff_secret, text, clock=clock, partner_messages=partner_messages
    )
    assert refused.status_code == 403, refused.text
    assert refused.headers["content-type"] == "application/problem+json"
    taken = await upload(client, "energie-proef", utility_secret, text, clock=clock, partner_messages=partner_messages)
    assert taken.status_code == 201, taken.text
    assert [m.partner_id for m in await stored(app)] == ["energie-proef"]


async def test_a_forged_or_unsigned_file_is_a_401_and_another_partner_cannot_read_a_report(
    app: FastAPI, client: httpx.AsyncClient, clock: FixedClock, corporation: tuple[str, str], partner_messages: Any
) -> None:
    partner_id, secret = corporation
    text = csv_file([row(1)])
    forged = await upload(
        client, partner_id, partner_messages.new_secret(), text, clock=clock, partner_messages=partner_messages
    )
    assert forged.status_code == 401, forged.text
    assert forged.json()["field"] == "webhook-signature"
    # Signed over other bytes than those sent.
    headers = partner_messages.signed_headers(secret, csv_file([row(2)]), at=clock.now())
    headers["content-type"] = "text/csv"
    tampered = await client.post(f"/v1/partners/{partner_id}/signal-files", content=text, headers=headers)
    assert tampered.status_code == 401, tampered.text
    assert await stored(app) == []

    taken = await upload(client, partner_id, secret, text, clock=clock, partner_messages=partner_messages)
    other_secret = await register(client, partner_messages, "woonander", "housing_corporation")
    path = f"/v1/partners/woonander/signal-files/{taken.json()['id']}"
    other = await client.get(path, headers=partner_messages.read_headers(other_secret, path, at=clock.now()))
    assert other.status_code == 404, other.text


async def test_an_oversized_file_is_a_413_and_json_is_a_415(
    app: FastAPI, client: httpx.AsyncClient, clock: FixedClock, corporation: tuple[str, str], partner_messages: Any
) -> None:
    partner_id, secret = corporation
    text = csv_file([row(1)]) + "x" * MAX_BYTES
    response = await upload(client, partner_id, secret, text, clock=clock, partner_messages=partner_messages)
    assert response.status_code == 413, response.text
    assert response.json()["max_bytes"] == MAX_BYTES

    as_json = await upload(
        client, partner_id, secret, csv_file([row(1)]), clock=clock, partner_messages=partner_messages,
        content_type="application/json",
    )  # fmt: skip
    assert as_json.status_code == 415, as_json.text
    assert await stored(app) == []


async def test_a_files_rows_are_forwarded_to_case_api_by_the_inbound_worker(
    app: FastAPI, client: httpx.AsyncClient, clock: FixedClock, corporation: tuple[str, str], partner_messages: Any
) -> None:
    partner_id, secret = corporation
    text = csv_file([row(1), row(2, consent_given="no")])
    await upload(client, partner_id, secret, text, clock=clock, partner_messages=partner_messages)
    posted: list[tuple[str, dict[str, Any], str]] = []

    def case_api_answer(request: httpx.Request) -> httpx.Response:
        posted.append((request.url.path, json.loads(request.content), request.headers["idempotency-key"]))
        return httpx.Response(201, json={"case_id": f"00000000-0000-4000-8000-00000000000{len(posted)}"})

    class Token:
        def token(self) -> str:
            return "test-token"

    settings: Settings = app.state.settings
    async with httpx.AsyncClient(transport=httpx.MockTransport(case_api_answer), base_url="http://case-api") as http:
        done = await process_due(
            app.state.session_factory, case_api=CaseApi(http, Token()), settings=settings, clock=clock
        )

    assert done == 2
    assert [path for path, _, _ in posted] == ["/v1/signals", "/v1/signals"]
    signal = posted[0][1]["signal"]
    assert (signal["partner_reference"], signal["arrears_amount"], signal["crisis"]) == ("HUUR-000001", "850.50", False)
    assert posted[0][1]["household"]["postcode"] == "8911 AB"
    assert "consent_given" not in json.dumps(posted[1][1])
    assert [m.status for m in await stored(app)] == [InboundStatus.processed, InboundStatus.processed]


async def test_a_file_of_100000_rows_is_taken_completely(
    app: FastAPI, client: httpx.AsyncClient, clock: FixedClock, corporation: tuple[str, str], partner_messages: Any
) -> None:
    partner_id, secret = corporation
    rows = [row(n, arrears_amount=f"{n % 5000 + 100},{n % 100:02d}") for n in range(1, 100_001)]
    rows[41_999]["postcode"] = "ABCD 12"  # row 42,001 of the file
    text = csv_file(rows)
    response = await upload(client, partner_id, secret, text, clock=clock, partner_messages=partner_messages)

    assert response.status_code == 201, response.text
    report = response.json()
    assert (report["rows"], report["accepted"], report["rejected"]) == (100_000, 99_999, 1)
    assert [r["row"] for r in report["report"]] == list(range(2, 100_002))
    assert report["report"][41_999]["errors"] == [
        {"column": "postcode", "message": "must be a Dutch postcode, four digits and two letters (1234 AB)"}
    ]
    async with app.state.session_factory() as session:
        count = await session.scalar(
            select(func.count()).select_from(InboundMessage).where(InboundMessage.status == InboundStatus.received)
        )
        references = await session.scalar(select(func.count(func.distinct(InboundMessage.reference))))
    assert (count, references) == (99_999, 99_999)


async def test_a_corporations_file_may_carry_the_household_composition_a_utilitys_may_not(
    app: FastAPI, client: httpx.AsyncClient, clock: FixedClock, corporation: tuple[str, str], partner_messages: Any
) -> None:
    """The optional columns minors_count and birth_years (years separated by spaces): checked per row, naming the
    column and never the value; a good row's message carries them as arrears.reported would (to case-api only)."""
    partner_id, secret = corporation
    columns = (*COLUMNS, "minors_count", "birth_years")
    text = csv_file(
        [
            row(1, minors_count="2"),
            row(2, birth_years="1988 1990 2016"),
            row(3),
            row(4, minors_count="many"),
            row(5, birth_years="1988 16"),
            row(6, minors_count="1", birth_years="1988 2016"),
            row(7, birth_years="1988 2031"),  # after the year of signal_date
        ],
        columns=columns,
    )
    response = await upload(client, partner_id, secret, text, clock=clock, partner_messages=partner_messages)
    assert response.status_code == 201, response.text
    by_row = {r["row"]: r for r in response.json()["report"]}
    assert [number for number, r in by_row.items() if r["status"] == "accepted"] == [2, 3, 4]
    assert [[e["column"] for e in by_row[n]["errors"]] for n in (5, 6, 7, 8)] == [
        ["minors_count"],
        ["birth_years"],
        ["birth_years"],
        ["birth_years"],
    ]
    assert "many" not in response.text
    payloads = [m.payload for m in await stored(app)]
    assert [(p.get("minors_count"), p.get("birth_years")) for p in payloads] == [
        (2, None),
        (None, [1988, 1990, 2016]),
        (None, None),
    ]

    utility_secret = await register(client, partner_messages, "energie-proef", "utility")
    refused = await upload(
        client,
        "energie-proef",
        utility_secret,
        csv_file([row(11, minors_count="2"), row(12)], columns=columns),
        clock=clock,
        partner_messages=partner_messages,
    )
    assert refused.status_code == 201, refused.text
    [rejected] = [r for r in refused.json()["report"] if r["status"] == "rejected"]
    assert [e["column"] for e in rejected["errors"]] == ["minors_count"]
    assert "housing corporation" in rejected["errors"][0]["message"]


async def test_a_nul_character_refuses_the_file_naming_its_row_and_column(
    app: FastAPI, client: httpx.AsyncClient, clock: FixedClock, corporation: tuple[str, str], partner_messages: Any
) -> None:
    """Issue 11: a file with NUL bytes was taken (201) and the NUL stored in a surname."""
    partner_id, secret = corporation
    text = csv_file([row(1), row(2, surname="Test\x00huis"), row(3)])
    response = await upload(client, partner_id, secret, text, clock=clock, partner_messages=partner_messages)

    assert response.status_code == 422, response.text
    problem = response.json()
    assert (problem["field"], problem["row"]) == ("surname", 3)
    assert "row 3, column surname" in problem["detail"]
    assert "huis" not in response.text
    assert await stored(app) == []


async def test_cells_a_spreadsheet_would_run_as_formulas_and_bad_references_are_rejected_naming_the_column(
    app: FastAPI, client: httpx.AsyncClient, clock: FixedClock, corporation: tuple[str, str], partner_messages: Any
) -> None:
    """Issue 11 (OWASP CSV injection): cells starting with =, +, -, @, tab or CR were stored as sent; references
    were not checked against the message reference pattern."""
    partner_id, secret = corporation
    formulas = [
        row(2, surname='=HYPERLINK("https://example.invalid/x","klik")'),
        row(3, street="+cmd|' /C calc'!A0"),
        row(4, city="-2+3"),
        row(5, initials="@SUM(1)"),
        row(6, house_number_suffix="\tb"),
        row(7, email=" =x@example.invalid"),
        row(8, reference="=HUUR-8"),
        row(9, reference="HUUR<9>"),
    ]
    text = csv_file([row(1, mobile="+31612345678"), *formulas, row(10)])
    text += ";".join(f'"\r{value}"' if name == "surname_prefix" else value for name, value in row(11).items()) + "\n"
    response = await upload(client, partner_id, secret, text, clock=clock, partner_messages=partner_messages)

    assert response.status_code == 201, response.text
    by_row = {r["row"]: r for r in response.json()["report"]}
    rejected = {number: [e["column"] for e in r["errors"]] for number, r in by_row.items() if r["status"] != "accepted"}
    assert rejected == {
        3: ["surname"],
        4: ["street"],
        5: ["city"],
        6: ["initials"],
        7: ["house_number_suffix"],
        8: ["email"],
        9: ["reference"],
        10: ["reference"],
        12: ["surname_prefix"],
    }
    assert "formula" in by_row[3]["errors"][0]["message"]
    assert "letter or digit" in by_row[10]["errors"][0]["message"]
    for value in ("HYPERLINK", "calc", "SUM(", "HUUR<9>"):
        assert value not in response.text
    stored_rows = await stored(app)
    assert [m.reference for m in stored_rows] == ["HUUR-000001", "HUUR-000010"]
    assert stored_rows[0].payload["mobile"] == "+31612345678"  # +316 and digits: a mobile number, not a formula


async def test_a_partner_over_its_daily_budget_of_signal_file_bytes_gets_429_until_it_refills(
    database_url: str, clock: FixedClock, dev_key: DevKey, admin: dict[str, str], partner_messages: Any
) -> None:
    """Issue 11: twelve files of 50 MiB in a row were all taken (201); files now cost their size from a daily
    budget per partner, as messages have a rate. A file sent again (its first report) costs nothing."""
    settings = Settings(
        database_url=database_url,
        oidc_jwks_url=str(dev_key.jwks_path),
        signal_file_max_bytes=8 * 1024,
        signal_file_bytes_per_day=8 * 1024,
    )
    budget_app = create_app(settings, clock=clock)
    transport = httpx.ASGITransport(app=budget_app)
    async with (
        budget_app.router.lifespan_context(budget_app),
        httpx.AsyncClient(transport=transport, base_url="http://gateway.test", headers=admin) as client,
    ):
        secret = await register(client, partner_messages, "woonbudget", "housing_corporation")
        files = [csv_file([row(number * 10 + index) for index in range(8)]) for number in range(8)]
        answers = []
        for text in files:
            answer = await upload(client, "woonbudget", secret, text, clock=clock, partner_messages=partner_messages)
            answers.append(answer)
            if answer.status_code == 429:
                break
        taken = [answer for answer in answers if answer.status_code == 201]
        assert (
            sum(len(text.encode()) for text in files[: len(taken)])
            <= 8 * 1024
            < sum(len(text.encode()) for text in files[: len(taken) + 1])
        )
        refused = answers[-1]
        assert refused.status_code == 429, [answer.status_code for answer in answers]
        assert refused.headers["content-type"] == "application/problem+json"
        assert int(refused.headers["Retry-After"]) >= 1
        again = await upload(client, "woonbudget", secret, files[0], clock=clock, partner_messages=partner_messages)
        assert again.status_code == 200  # the first report of a file taken before: no new cost

        clock.advance(timedelta(days=1))
        later = await upload(
            client, "woonbudget", secret, files[len(taken)], clock=clock, partner_messages=partner_messages
        )
        assert later.status_code == 201, later.text
