"""Household maintenance (issue 10): a partner opens a case without minors, staff records the family's children,
contact details, language and BSN; minors recompute has_minors, the priority and the R10 tasks at once, and every
change publishes household.updated without personal data. Made-up households; BSNs only pass the eleven-test."""

import json
import uuid
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

import httpx
import pytest
from case_api_fixtures import TEAM, made_up_household, made_up_signal
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from case_api.db import OutboxRecord
from case_api.tasks.models import Task, TaskStatus
from eviction_schemas.envelope import event_type

pytestmark = pytest.mark.postgres

Client = Callable[..., AbstractAsyncContextManager[httpx.AsyncClient]]
Sessions = async_sessionmaker[AsyncSession]
GATEWAY = {"roles": ("partner_gateway",), "team": None}
BSN = "111222333"  # fictitious; passes the eleven-test
ASSESSMENT = {
    "children_situation": "two young children, made up",
    "children_heard": True,
    "how_heard": "a made-up talk at home",
    "sleeping_place_after_eviction": "with made-up grandparents",
    "completed": True,
}


def unique_bsn() -> str:
    """A fictitious BSN that passes the eleven-test, unlikely to be another test's."""
    while True:
        digits = [int(d) for d in f"{uuid.uuid4().int % 10**8:08d}"]
        check = sum(d * (9 - i) for i, d in enumerate(digits)) % 11
        if check < 10 and digits[0] != 0:
            return "".join(map(str, digits)) + str(check)


def unique_address() -> dict[str, str]:
    return {"postcode": f"{1000 + uuid.uuid4().int % 9000} HH", "house_number": str(1 + uuid.uuid4().int % 10**9)}


async def partner_opened_case(case_api_client: Client) -> tuple[str, dict[str, Any]]:
    household = made_up_household(**unique_address(), children_born=())
    household.pop("email"), household.pop("mobile")
    household["preferred_channel"] = "letter"
    async with case_api_client(**GATEWAY) as gateway:
        opened = await gateway.post(
            "/v1/signals", json={"team": TEAM, "household": household, "signal": made_up_signal()}
        )
    assert opened.status_code == 201, opened.text
    return str(opened.json()["case_id"]), household


async def events(sessions: Sessions, case_id: str, name: str) -> list[dict[str, Any]]:
    async with sessions() as session:
        rows = await session.scalars(
            select(OutboxRecord)
            .where(OutboxRecord.key == case_id, OutboxRecord.event_type == event_type(name))
            .order_by(OutboxRecord.id)
        )
        return [json.loads(row.payload)["data"] for row in rows]


async def open_tasks(sessions: Sessions, case_id: str) -> set[str]:
    async with sessions() as session:
        tasks = await session.scalars(select(Task).where(Task.case_id == case_id, Task.status == TaskStatus.open))
        return {task.purpose for task in tasks}


async def test_staff_records_the_children_of_a_partner_opened_case(case_api_client: Client, sessions: Sessions) -> None:
    case_id, household = await partner_opened_case(case_api_client)
    async with case_api_client(roles=("outreach_worker",)) as staff:
        before = (await staff.get(f"/v1/cases/{case_id}")).json()
        assert (before["has_minors"], before["priority"]) == (False, "normal")
        scheduled = await staff.post(
            f"/v1/cases/{case_id}/eviction/schedule", json={"eviction_date": "2026-04-20", "served_on": "2026-03-02"}
        )
        assert scheduled.status_code == 200, scheduled.text
        assert not any(p.startswith("child_rights") for p in await open_tasks(sessions, case_id))
        refused = await staff.post(f"/v1/cases/{case_id}/child-assessments", json=ASSESSMENT)
        assert refused.status_code == 409, refused.text

        children = [
            {"role": "child", "given_name": "Kind1", "surname": "Testhuis", "birth_date": "2021-05-01"},
            {"role": "child", "given_name": "Kind2", "surname": "Testhuis", "birth_date": "2023-09-12"},
        ]
        family = {
            **household,
            "members": [*household["members"], *children],
            "mobile": "0687654321",
            "email": "fam.testhuis@example.invalid",
            "mail_address": "Postbus 12, 8900 AA Leeuwarden",
            "language": "fy",
            "preferred_channel": "sms",
            "bsn": BSN,
        }
        updated = await staff.put(f"/v1/cases/{case_id}/household", json=family)
        assert updated.status_code == 200, updated.text
        body = updated.json()
        assert [m["minor"] for m in body["members"]] == [False, True, True]
        assert body["bsn"] is not None
        assert body["bsn"] != BSN  # masked (R15)
        assert (body["language"], body["mail_address"]) == ("fy", "Postbus 12, 8900 AA Leeuwarden")
        case = (await staff.get(f"/v1/cases/{case_id}")).json()
        assert (case["has_minors"], case["priority"]) == (True, "highest")
        assert "child_rights_assessment:2026-04-20" in await open_tasks(sessions, case_id)  # R10 at once

        read = (await staff.get(f"/v1/cases/{case_id}/household")).json()
        assert read == body
        assessed = await staff.post(f"/v1/cases/{case_id}/child-assessments", json=ASSESSMENT)
        assert assessed.status_code == 201, assessed.text
        assert "child_rights_assessment:2026-04-20" not in await open_tasks(sessions, case_id)

    async with case_api_client(roles=("policy_analyst",), team=None, statistics_min_cell=1) as analyst:
        stats = await analyst.get(
            "/v1/statistics/children", params={"period": "year", "from": "2026-01-01", "to": "2026-12-31"}
        )
    assert stats.status_code == 200, stats.text
    assert sum(row["threatened"]["value"] or 0 for row in stats.json()["rows"]) == 2  # R12

    published = await events(sessions, case_id, "household.updated")
    assert published == [
        {
            "household_id": published[0]["household_id"],
            "has_minors": True,
            "priority": "highest",
            "language": "fy",
            "reachable_channels": ["email", "letter", "phone", "sms"],
            "changed": ["mail_address", "contact", "preferred_channel", "language", "bsn", "members"],
        }
    ]
    async with sessions() as session:
        raw = [
            bytes(row.payload).decode() if not isinstance(row.payload, str) else row.payload
            for row in await session.scalars(select(OutboxRecord).where(OutboxRecord.key == case_id))
        ]
    for text in ("Kind1", "0687654321", "fam.testhuis", "Postbus", BSN, "2021-05-01"):
        assert not any(text in payload for payload in raw), text

    async with case_api_client(roles=("outreach_worker",)) as staff:
        removed = await staff.put(f"/v1/cases/{case_id}/household", json={**family, "members": household["members"]})
        assert removed.status_code == 200, removed.text
        case = (await staff.get(f"/v1/cases/{case_id}")).json()
    assert (case["has_minors"], case["priority"]) == (False, "normal")
    assert (await events(sessions, case_id, "household.updated"))[-1]["has_minors"] is False


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"bsn": "123456789"}, "bsn"),
        ({"mobile": "12345"}, "mobile"),
        ({"members": []}, "members"),
        ({"members": [{"role": "child", "birth_date": "not-a-date"}]}, "birth_date"),
        ({"language": "xx"}, "language"),
    ],
)
async def test_bad_household_input_names_the_field(
    case_api_client: Client, sessions: Sessions, change: dict[str, object], field: str
) -> None:
    case_id, household = await partner_opened_case(case_api_client)
    async with case_api_client(roles=("outreach_worker",)) as staff:
        refused = await staff.put(f"/v1/cases/{case_id}/household", json={**household, **change})
    assert refused.status_code in (400, 422), refused.text
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert field in json.dumps(refused.json())
    assert await events(sessions, case_id, "household.updated") == []


async def test_the_gateways_service_role_does_not_change_a_household(case_api_client: Client) -> None:
    case_id, household = await partner_opened_case(case_api_client)
    async with case_api_client(**GATEWAY) as gateway:
        refused = await gateway.put(f"/v1/cases/{case_id}/household", json=household)
    assert refused.status_code == 403, refused.text


async def test_members_added_changed_and_removed_one_by_one(case_api_client: Client, sessions: Sessions) -> None:
    """Per-member operations take the same path as PUT: has_minors, priority, R10 at once, household.updated."""
    case_id, _ = await partner_opened_case(case_api_client)
    async with case_api_client(roles=("outreach_worker",)) as staff:
        scheduled = await staff.post(
            f"/v1/cases/{case_id}/eviction/schedule", json={"eviction_date": "2026-04-20", "served_on": "2026-03-02"}
        )
        assert scheduled.status_code == 200, scheduled.text
        read = await staff.get(f"/v1/cases/{case_id}/household")
        assert read.headers["etag"] == f'"{read.json()["version"]}"'
        tenant_id = read.json()["members"][0]["id"]

        added = await staff.post(
            f"/v1/cases/{case_id}/household/members",
            json={"role": "other", "given_name": "Kind1", "surname": "Testhuis"},
            headers={"if-match": read.headers["etag"]},
        )
        assert added.status_code == 201, added.text
        child_id = added.headers["location"].rsplit("/", 1)[-1]
        assert [m["id"] for m in added.json()["members"]] == [tenant_id, child_id]
        assert added.headers["etag"] != read.headers["etag"]
        assert (await staff.get(f"/v1/cases/{case_id}")).json()["has_minors"] is False

        born = await staff.patch(
            f"/v1/cases/{case_id}/household/members/{child_id}",
            json={"role": "child", "birth_date": "2022-03-04"},
            headers={"if-match": added.headers["etag"]},
        )
        assert born.status_code == 200, born.text
        assert [(m["role"], m["minor"], m["given_name"]) for m in born.json()["members"]][1] == (
            "child",
            True,
            "Kind1",
        )
        case = (await staff.get(f"/v1/cases/{case_id}")).json()
        assert (case["has_minors"], case["priority"]) == (True, "highest")
        assert "child_rights_assessment:2026-04-20" in await open_tasks(sessions, case_id)  # R10 at once

        unchanged = await staff.patch(f"/v1/cases/{case_id}/household/members/{child_id}", json={"role": "child"})
        assert unchanged.status_code == 200, unchanged.text
        assert unchanged.headers["etag"] == born.headers["etag"]  # nothing changed: no new version, no event

        removed = await staff.delete(
            f"/v1/cases/{case_id}/household/members/{child_id}", headers={"if-match": born.headers["etag"]}
        )
        assert removed.status_code == 200, removed.text
        assert [m["id"] for m in removed.json()["members"]] == [tenant_id]
        case = (await staff.get(f"/v1/cases/{case_id}")).json()
        assert (case["has_minors"], case["priority"]) == (False, "normal")
        assert not any(p.startswith("child_rights") for p in await open_tasks(sessions, case_id))

        last = await staff.delete(f"/v1/cases/{case_id}/household/members/{tenant_id}")
        assert last.status_code == 409, last.text
        assert last.json()["field"] == "member_id"
        gone = await staff.patch(f"/v1/cases/{case_id}/household/members/{child_id}", json={"surname": "X"})
        assert (gone.status_code, gone.json()["field"]) == (404, "member_id")

    published = await events(sessions, case_id, "household.updated")
    assert [(e["has_minors"], e["changed"]) for e in published] == [
        (False, ["members"]),
        (True, ["members"]),
        (False, ["members"]),
    ]
    async with sessions() as session:
        raw = [row.payload for row in await session.scalars(select(OutboxRecord).where(OutboxRecord.key == case_id))]
    assert not any("Kind1" in str(payload) or "2022-03-04" in str(payload) for payload in raw)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"birth_date": "not-a-date"}, "birth_date"),
        ({"role": None}, "role"),
        ({"role": "uncle"}, "role"),
        ({"nickname": "x"}, "nickname"),
        ({"surname": "a\x00b"}, "surname"),
    ],
)
async def test_bad_member_change_names_the_field(
    case_api_client: Client, sessions: Sessions, change: dict[str, object], field: str
) -> None:
    case_id, _ = await partner_opened_case(case_api_client)
    async with case_api_client(roles=("outreach_worker",)) as staff:
        tenant_id = (await staff.get(f"/v1/cases/{case_id}/household")).json()["members"][0]["id"]
        refused = await staff.patch(f"/v1/cases/{case_id}/household/members/{tenant_id}", json=change)
        empty = await staff.patch(f"/v1/cases/{case_id}/household/members/{tenant_id}", json={})
        bad_add = await staff.post(f"/v1/cases/{case_id}/household/members", json={"role": "child", **change})
    for answer in (refused, bad_add):
        assert answer.status_code == 400, answer.text
        assert answer.headers["content-type"].startswith("application/problem+json")
        assert field in {error["field"].rsplit(".", 1)[-1] for error in answer.json()["errors"]}
    assert empty.status_code == 400, empty.text
    assert await events(sessions, case_id, "household.updated") == []


async def test_a_change_on_a_household_read_before_another_change_is_refused(
    case_api_client: Client, sessions: Sessions
) -> None:
    """Optimistic concurrency: two caseworkers read version 1; the second change is refused with 412."""
    case_id, household = await partner_opened_case(case_api_client)
    async with case_api_client(roles=("outreach_worker",)) as staff:
        read = await staff.get(f"/v1/cases/{case_id}/household")
        seen = read.headers["etag"]
        tenant_id = read.json()["members"][0]["id"]
        first = await staff.put(
            f"/v1/cases/{case_id}/household", json={**household, "language": "fy"}, headers={"if-match": seen}
        )
        assert first.status_code == 200, first.text
        for answer in (
            await staff.put(
                f"/v1/cases/{case_id}/household", json={**household, "language": "en"}, headers={"if-match": seen}
            ),
            await staff.post(
                f"/v1/cases/{case_id}/household/members", json={"role": "child"}, headers={"if-match": seen}
            ),
            await staff.patch(
                f"/v1/cases/{case_id}/household/members/{tenant_id}",
                json={"initials": "Q."},
                headers={"if-match": seen},
            ),
            await staff.delete(f"/v1/cases/{case_id}/household/members/{tenant_id}", headers={"if-match": seen}),
        ):
            assert answer.status_code == 412, answer.text
            assert answer.headers["content-type"].startswith("application/problem+json")
            assert (answer.json()["field"], answer.json()["etag"]) == ("If-Match", first.headers["etag"])
        star = await staff.put(
            f"/v1/cases/{case_id}/household", json={**household, "language": "en"}, headers={"if-match": "*"}
        )
        assert star.status_code == 200, star.text
        now = (await staff.get(f"/v1/cases/{case_id}/household")).json()
    assert now["language"] == "en"
    assert [e["language"] for e in await events(sessions, case_id, "household.updated")] == ["fy", "en"]


async def test_moving_a_household_onto_another_open_cases_address_is_refused(
    case_api_client: Client, sessions: Sessions
) -> None:
    """R2: one open case per household. The 409 names the other case's id, nothing of its household."""
    other_id, other = await partner_opened_case(case_api_client)
    case_id, household = await partner_opened_case(case_api_client)
    bsn = unique_bsn()
    same_place = {key: other[key] for key in ("street", "house_number", "postcode", "city")}
    async with case_api_client(roles=("outreach_worker",)) as staff:
        clash = await staff.put(
            f"/v1/cases/{case_id}/household",
            json={**household, **same_place, "postcode": other["postcode"].replace(" ", "")},
        )
        assert clash.status_code == 409, clash.text
        problem = clash.json()
        assert (problem["field"], problem["case_id"]) == ("postcode", other_id)
        for text in ("Jelle", "Testhuis", other["postcode"], "Proefstraat"):
            assert text not in clash.text, text
        with_bsn = await staff.put(f"/v1/cases/{other_id}/household", json={**other, "bsn": bsn})
        assert with_bsn.status_code == 200, with_bsn.text
        same_bsn = await staff.put(f"/v1/cases/{case_id}/household", json={**household, "bsn": bsn})
        assert (same_bsn.status_code, same_bsn.json().get("field")) == (409, "bsn"), same_bsn.text
        assert bsn not in same_bsn.text
        unchanged = (await staff.get(f"/v1/cases/{case_id}/household")).json()
    assert (unchanged["postcode"], unchanged["bsn"]) == (household["postcode"], None)
    assert await events(sessions, case_id, "household.updated") == []

    async with case_api_client(roles=("team_lead",)) as lead:
        closed = await lead.post(f"/v1/cases/{other_id}/close", json={"outcome_code": "no_help_wanted"})
        assert closed.status_code == 200, closed.text
    async with case_api_client(roles=("outreach_worker",)) as staff:
        moved = await staff.put(f"/v1/cases/{case_id}/household", json={**household, **same_place, "bsn": bsn})
    assert moved.status_code == 200, moved.text  # the other case is closed: nothing clashes any more


async def signal_with(case_api_client: Client, household: dict[str, Any], **extra: object) -> httpx.Response:
    async with case_api_client(**GATEWAY) as gateway:
        return await gateway.post(
            "/v1/signals", json={"team": TEAM, "household": household, "signal": made_up_signal(), **extra}
        )


async def threatened_children(case_api_client: Client) -> int:
    async with case_api_client(roles=("policy_analyst",), team=None, statistics_min_cell=1) as analyst:
        stats = await analyst.get(
            "/v1/statistics/children", params={"period": "year", "from": "2026-01-01", "to": "2026-12-31"}
        )
    assert stats.status_code == 200, stats.text
    return sum(row["threatened"]["value"] or 0 for row in stats.json()["rows"])


def partner_household() -> dict[str, Any]:
    household = made_up_household(**unique_address(), children_born=())
    household.pop("email"), household.pop("mobile")
    household["preferred_channel"] = "letter"
    return household


async def test_a_partners_minors_count_makes_the_case_one_with_minors_until_staff_record_the_members(
    case_api_client: Client, sessions: Sessions
) -> None:
    household = partner_household()
    opened = await signal_with(case_api_client, household, composition={"minors_count": 2})
    assert opened.status_code == 201, opened.text
    case_id = opened.json()["case_id"]
    async with case_api_client(roles=("outreach_worker",)) as staff:
        case = (await staff.get(f"/v1/cases/{case_id}")).json()
        assert (case["has_minors"], case["priority"]) == (True, "highest")
        read = (await staff.get(f"/v1/cases/{case_id}/household")).json()
        assert (read["reported_minors"], read["members_by_staff"]) == (2, False)
        before = await threatened_children(case_api_client)
        scheduled = await staff.post(
            f"/v1/cases/{case_id}/eviction/schedule", json={"eviction_date": "2026-04-20", "served_on": "2026-03-02"}
        )
        assert scheduled.status_code == 200, scheduled.text
        assert "child_rights_assessment:2026-04-20" in await open_tasks(sessions, case_id)  # R10 on the partner's word

    assert await threatened_children(case_api_client) == before + 2  # R12 counts the partner's children

    # A second partner signal later, with contact details and birth years: fills what is empty, updates the count.
    again = await signal_with(
        case_api_client,
        {**household, "mobile": "0687654321"},
        composition={"birth_years": [1988, 1990, 2016]},
    )
    assert (again.status_code, again.json()["case_opened"]) == (201, False), again.text
    async with case_api_client(roles=("outreach_worker",)) as staff:
        read = (await staff.get(f"/v1/cases/{case_id}/household")).json()
        assert (read["reported_minors"], read["mobile"]) == (1, "0687654321")

        # Staff data wins: the tenant alone, recorded by staff, and the case has no minors any more.
        tenant_id = read["members"][0]["id"]
        dated = await staff.patch(
            f"/v1/cases/{case_id}/household/members/{tenant_id}", json={"birth_date": "1988-04-03"}
        )
        assert dated.status_code == 200, dated.text
        assert (dated.json()["members_by_staff"], dated.json()["reported_minors"]) == (True, 1)
        case = (await staff.get(f"/v1/cases/{case_id}")).json()
        assert (case["has_minors"], case["priority"]) == (False, "high")  # high: two signals in a month (R2)
        assert not any(p.startswith("child_rights") for p in await open_tasks(sessions, case_id))

    # A partner's later count no longer changes has_minors once staff recorded the members.
    late = await signal_with(case_api_client, household, composition={"minors_count": 3})
    assert late.status_code == 201, late.text
    async with case_api_client(roles=("outreach_worker",)) as staff:
        assert (await staff.get(f"/v1/cases/{case_id}")).json()["has_minors"] is False

    published = await events(sessions, case_id, "household.updated")
    assert [(e["has_minors"], e["changed"]) for e in published] == [
        (True, ["reported_minors", "contact"]),
        (False, ["members"]),
        (False, ["reported_minors"]),
    ]
    opened_event = (await events(sessions, case_id, "case.opened"))[0]
    assert opened_event["has_minors"] is True
    async with sessions() as session:
        raw = [row.payload for row in await session.scalars(select(OutboxRecord).where(OutboxRecord.key == case_id))]
    for text in ("1988", "2016", "0687654321", "minors_count", "birth_years", 'reported_minors": 1'):
        assert not any(text in str(payload) for payload in raw), text


async def test_birth_years_count_a_member_who_may_still_be_under_18(case_api_client: Client) -> None:
    # The signal's date is 2026-02-27: born in 2008 may be 17 still (counted, R10 errs on the child's side).
    opened = await signal_with(case_api_client, partner_household(), composition={"birth_years": [1980, 2008]})
    assert opened.status_code == 201, opened.text
    adults = await signal_with(case_api_client, partner_household(), composition={"birth_years": [1980, 2007]})
    async with case_api_client(roles=("outreach_worker",)) as staff:
        assert (await staff.get(f"/v1/cases/{opened.json()['case_id']}")).json()["has_minors"] is True
        assert (await staff.get(f"/v1/cases/{adults.json()['case_id']}")).json()["has_minors"] is False


@pytest.mark.parametrize(
    ("composition", "field", "status"),
    [
        ({"minors_count": -1}, "composition.minors_count", 400),
        ({"minors_count": "two"}, "composition.minors_count", 400),
        ({"birth_years": [1850]}, "composition.birth_years[0]", 400),
        ({"birth_years": []}, "composition.birth_years", 400),
        # Well-formed, but not possible against the signal's date: a rule, not a shape (422).
        ({"birth_years": [2030]}, "composition.birth_years", 422),
        ({"minors_count": 1, "birth_years": [2016]}, "composition", 400),
        ({"adults": 2}, "composition.adults", 400),
    ],
)
async def test_bad_composition_names_the_field(
    case_api_client: Client, composition: dict[str, object], field: str, status: int
) -> None:
    refused = await signal_with(case_api_client, partner_household(), composition=composition)
    assert refused.status_code == status, refused.text
    problem = refused.json()
    assert field in {problem.get("field"), *(error["field"] for error in problem.get("errors", []))}, problem
