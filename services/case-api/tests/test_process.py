"""The process as data, transition by transition: every (stage, action) pair is either allowed with its
target or refused with 409 naming the allowed actions; the guards of R10 and R11 hold; docs/process.md is
what the table prints."""

from dataclasses import dataclass
from pathlib import Path

import pytest

from case_api.cases.models import RehousingOutcome, Stage
from case_api.cases.process import TRANSITIONS, Action, allowed_actions, apply, check, render_markdown
from service_kit.errors import Conflict

S = Stage
# The expected table, written out by hand so that a change to the code must be made twice on purpose.
EXPECTED: dict[Action, dict[Stage, Stage | None]] = {
    Action.attach_signal: {stage: None for stage in Stage if stage is not S.closed},
    Action.resolve_signal: {stage: None for stage in Stage if stage is not S.closed},
    Action.record_contact: {S.signalled: S.outreach}
    | {stage: None for stage in Stage if stage not in (S.signalled, S.closed)},
    Action.start_support: {S.signalled: S.in_support, S.outreach: S.in_support}
    | {stage: None for stage in Stage if stage not in (S.signalled, S.outreach, S.closed)},
    Action.end_support: {stage: None for stage in Stage if stage is not S.closed},
    Action.request_eviction: dict.fromkeys(
        (S.signalled, S.outreach, S.in_support, S.eviction_threatened), S.eviction_threatened
    )
    | {S.eviction_scheduled: None},
    Action.serve_summons: dict.fromkeys(
        (S.signalled, S.outreach, S.in_support, S.eviction_threatened), S.eviction_threatened
    ),
    Action.give_judgment: dict.fromkeys(
        (S.signalled, S.outreach, S.in_support, S.eviction_threatened), S.eviction_threatened
    ),
    Action.schedule_eviction: dict.fromkeys(
        (S.signalled, S.outreach, S.in_support, S.eviction_threatened), S.eviction_scheduled
    ),
    Action.postpone_eviction: {S.eviction_scheduled: None},
    Action.cancel_eviction: {S.eviction_scheduled: S.averted},
    Action.avert_eviction: {S.eviction_threatened: S.averted, S.eviction_scheduled: S.averted},
    Action.execute_eviction: {S.eviction_scheduled: S.evicted},
    Action.offer_oco: dict.fromkeys((S.eviction_threatened, S.eviction_scheduled, S.evicted, S.aftercare)),
    Action.answer_oco: dict.fromkeys((S.eviction_threatened, S.eviction_scheduled, S.averted, S.evicted, S.aftercare)),
    Action.record_child_assessment: {stage: None for stage in Stage if stage is not S.closed},
    Action.decide_temporary_housing: {S.eviction_scheduled: None, S.evicted: S.aftercare, S.aftercare: None},
    Action.store_belongings: {S.evicted: S.aftercare, S.aftercare: None},
    Action.settle_belongings: {S.aftercare: None},
    Action.request_postponement: {S.eviction_scheduled: None},
    Action.request_second_chance: dict.fromkeys(
        (S.signalled, S.outreach, S.in_support, S.eviction_threatened, S.eviction_scheduled)
    ),
    Action.record_second_chance_agreement: dict.fromkeys(
        (S.signalled, S.outreach, S.in_support, S.eviction_threatened, S.eviction_scheduled, S.averted)
    ),
    Action.record_oco_referral_step: {stage: None for stage in Stage if stage is not S.closed},
    Action.assign_contact_person: {stage: None for stage in Stage if stage is not S.closed},
    Action.close: {stage: S.closed for stage in Stage if stage is not S.closed},
}


@dataclass
class FakeCase:
    stage: Stage
    has_minors: bool = True
    rehousing_outcome: RehousingOutcome | None = RehousingOutcome.own_solution


def test_every_action_is_in_the_expected_table() -> None:
    assert set(EXPECTED) == set(Action)
    assert {transition.action for transition in TRANSITIONS} == set(Action)


@pytest.mark.parametrize("action", list(Action), ids=str)
@pytest.mark.parametrize("stage", list(Stage), ids=str)
def test_transition(stage: Stage, action: Action) -> None:
    case = FakeCase(stage=stage)
    expected = EXPECTED[action]
    if stage in expected:
        apply(case, action)
        assert case.stage is (expected[stage] or stage)
    else:
        with pytest.raises(Conflict) as refused:
            check(case, action)
        assert refused.value.status == 409
        assert refused.value.extra["allowed_actions"] == allowed_actions(stage)
        assert action.value not in refused.value.extra["allowed_actions"]
        assert case.stage is stage


def test_a_closed_case_allows_nothing() -> None:
    assert allowed_actions(Stage.closed) == []


def test_r11_a_family_with_minors_is_not_recorded_evicted_without_a_rehousing_outcome() -> None:
    case = FakeCase(stage=S.eviction_scheduled, has_minors=True, rehousing_outcome=None)
    with pytest.raises(Conflict) as refused:
        apply(case, Action.execute_eviction)
    assert refused.value.extra["rule"] == "R11"
    assert case.stage is S.eviction_scheduled
    case.rehousing_outcome = RehousingOutcome.temporary_housing_granted
    assert apply(case, Action.execute_eviction) is S.evicted


def test_r11_a_household_without_minors_needs_no_rehousing_outcome() -> None:
    case = FakeCase(stage=S.eviction_scheduled, has_minors=False, rehousing_outcome=None)
    assert apply(case, Action.execute_eviction) is S.evicted


def test_r10_a_child_rights_assessment_needs_minors() -> None:
    with pytest.raises(Conflict) as refused:
        check(FakeCase(stage=S.eviction_scheduled, has_minors=False), Action.record_child_assessment)
    assert refused.value.extra["rule"] == "R10"


def test_docs_process_md_is_what_the_table_prints() -> None:
    docs = Path(__file__).resolve().parents[3] / "docs" / "process.md"
    assert docs.read_text() == render_markdown(), "run: python -m case_api.cases.process > docs/process.md"
