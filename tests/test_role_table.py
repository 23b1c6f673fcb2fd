"""docs/roles.md is the role x operation table read from the three services' routes (python -m ep_ops.roles, part
of make docs): the committed file says what the code lets through."""

from ep_ops.roles import DEFAULT_OUT, main, render


def test_the_committed_role_table_is_the_one_the_code_gives() -> None:
    assert DEFAULT_OUT.read_text(encoding="utf-8") == render(), "docs/roles.md is out of date: run make docs"
    assert main(["--check"]) == 0


def test_the_table_shows_the_partner_gateway_without_the_cases_names_and_addresses() -> None:
    rows = [line.split("|") for line in render().splitlines() if line.startswith("| `")]
    # cells: operation, outreach_worker, debt_counsellor, team_lead, policy_analyst, admin, partner_gateway, notifier
    gateway = {cells[1].strip(" `") for cells in rows if cells[7].strip() == "✓"}
    assert "GET /v1/cases/{case_id}" not in gateway
    assert "GET /v1/cases" not in gateway
    assert "POST /v1/signals" in gateway
    assert "GET /v1/cases/{case_id}/oco-referral" in gateway
