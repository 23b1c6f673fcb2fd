"""The eviction-prevention process as data: stages, the actions that move a case, and their guards.

Every command on a case names its action; `check` answers whether the action is allowed from the case's
stage and whether its guards hold, and `target` says where the case goes. `python -m case_api.cases.process`
prints the table and the diagram in docs/process.md (a test keeps that file current).
"""

import sys
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from case_api.cases.models import Stage
from service_kit.errors import Conflict


class Action(StrEnum):
    attach_signal = "attach_signal"
    resolve_signal = "resolve_signal"
    record_contact = "record_contact"
    start_support = "start_support"
    end_support = "end_support"
    serve_summons = "serve_summons"
    give_judgment = "give_judgment"
    request_eviction = "request_eviction"
    schedule_eviction = "schedule_eviction"
    postpone_eviction = "postpone_eviction"
    cancel_eviction = "cancel_eviction"
    avert_eviction = "avert_eviction"
    execute_eviction = "execute_eviction"
    offer_oco = "offer_oco"
    answer_oco = "answer_oco"
    record_oco_referral_step = "record_oco_referral_step"
    record_child_assessment = "record_child_assessment"
    decide_temporary_housing = "decide_temporary_housing"
    store_belongings = "store_belongings"
    settle_belongings = "settle_belongings"
    request_postponement = "request_postponement"
    request_second_chance = "request_second_chance"
    record_second_chance_agreement = "record_second_chance_agreement"
    assign_contact_person = "assign_contact_person"
    close = "close"


class CaseState(Protocol):
    """What guards may look at: the case's own columns, kept current by the services that change them."""

    stage: Stage
    has_minors: bool

    @property
    def rehousing_outcome(self) -> StrEnum | None: ...


@dataclass(frozen=True)
class Guard:
    name: str
    rule: str
    description: str
    refuses: Callable[[CaseState], str | None]  # the reason it refuses, or None when the action may go on


def _rehousing_known_for_minors(case: CaseState) -> str | None:
    if case.has_minors and not case.rehousing_outcome:
        return (
            "a family with minors cannot be recorded as evicted without a rehousing outcome "
            "(temporary housing granted, own solution, or refused with reason): record the decision first"
        )
    return None


def _has_minors(case: CaseState) -> str | None:
    return None if case.has_minors else "a child-rights assessment is recorded for households with minors only"


REHOUSING_KNOWN = Guard(
    "rehousing outcome recorded",
    "R11",
    "a family with minors has a recorded rehousing outcome",
    _rehousing_known_for_minors,
)
HAS_MINORS = Guard("household has minors", "R10", "the household has members under 18", _has_minors)


@dataclass(frozen=True)
class Transition:
    action: Action
    sources: frozenset[Stage]
    target: Stage | None  # None: the case stays where it is
    guards: tuple[Guard, ...] = ()
    description: str = ""


S = Stage
OPEN = frozenset(stage for stage in Stage if stage is not Stage.closed)
BEFORE_LEGAL = frozenset({S.signalled, S.outreach, S.in_support})
LEGAL = frozenset({S.eviction_threatened, S.eviction_scheduled})
AFTER_EVICTION = frozenset({S.evicted, S.aftercare})

TRANSITIONS: tuple[Transition, ...] = (
    Transition(Action.attach_signal, OPEN, None, description="another arrears signal for the household (R2)"),
    Transition(Action.resolve_signal, OPEN, None, description="its partner reports the arrears cleared"),
    Transition(Action.record_contact, frozenset({S.signalled}), S.outreach, description="the first contact attempt"),
    Transition(Action.record_contact, OPEN - {S.signalled}, None, description="a further contact attempt"),
    Transition(Action.start_support, frozenset({S.signalled, S.outreach}), S.in_support, description="help accepted"),
    Transition(Action.start_support, OPEN - {S.signalled, S.outreach}, None, description="help accepted later on"),
    Transition(Action.end_support, OPEN, None, description="a support trajectory ended"),
    Transition(
        Action.request_eviction,
        BEFORE_LEGAL | {S.eviction_threatened},
        S.eviction_threatened,
        description="the landlord asked its bailiff to evict: the legal track starts (R5)",
    ),
    Transition(
        Action.request_eviction,
        frozenset({S.eviction_scheduled}),
        None,
        description="a request the landlord reports after the bailiff set a date",
    ),
    Transition(Action.serve_summons, BEFORE_LEGAL | {S.eviction_threatened}, S.eviction_threatened),
    Transition(Action.give_judgment, BEFORE_LEGAL | {S.eviction_threatened}, S.eviction_threatened),
    Transition(
        Action.schedule_eviction,
        BEFORE_LEGAL | {S.eviction_threatened},
        S.eviction_scheduled,
        description="the bailiff served the eviction notice with a date",
    ),
    Transition(Action.postpone_eviction, frozenset({S.eviction_scheduled}), None, description="a new date (R7)"),
    Transition(Action.cancel_eviction, frozenset({S.eviction_scheduled}), S.averted, description="the bailiff cancels"),
    Transition(
        Action.avert_eviction, LEGAL, S.averted, description="payment, arrangement, second-chance agreement, moratorium"
    ),
    Transition(
        Action.execute_eviction,
        frozenset({S.eviction_scheduled}),
        S.evicted,
        guards=(REHOUSING_KNOWN,),
        description="the eviction took place",
    ),
    Transition(Action.offer_oco, LEGAL | AFTER_EVICTION, None, description="OCO by MEE Noord offered (R8)"),
    Transition(Action.answer_oco, LEGAL | AFTER_EVICTION | {S.averted}, None, description="accepted or declined (R9)"),
    Transition(
        Action.record_oco_referral_step,
        OPEN,
        None,
        description="MEE Noord reports on a referral: accepted, contact made, support started or ended, declined",
    ),
    Transition(Action.record_child_assessment, OPEN, None, guards=(HAS_MINORS,), description="R10"),
    Transition(
        Action.decide_temporary_housing, frozenset({S.eviction_scheduled, S.aftercare}), None, description="R13"
    ),
    Transition(Action.decide_temporary_housing, frozenset({S.evicted}), S.aftercare, description="R13"),
    Transition(Action.store_belongings, frozenset({S.evicted}), S.aftercare, description="R14"),
    Transition(Action.store_belongings, frozenset({S.aftercare}), None, description="R14"),
    Transition(Action.settle_belongings, frozenset({S.aftercare}), None, description="returned or disposed (R14)"),
    Transition(
        Action.request_postponement,
        frozenset({S.eviction_scheduled}),
        None,
        description="ask the corporation and/or the bailiff to postpone the date, with a grounds category (R10)",
    ),
    Transition(
        Action.request_second_chance,
        BEFORE_LEGAL | LEGAL,
        None,
        description="ask the corporation to offer a second-chance agreement",
    ),
    Transition(
        Action.record_second_chance_agreement,
        BEFORE_LEGAL | LEGAL | {S.averted},
        None,
        description="the corporation offered a second-chance agreement (signed: the eviction is averted)",
    ),
    Transition(
        Action.assign_contact_person, OPEN, None, description="the municipality's contact person for the partners"
    ),
    Transition(Action.close, OPEN, S.closed, description="closed with an outcome code"),
)


def transitions_from(stage: Stage) -> list[Transition]:
    return [transition for transition in TRANSITIONS if stage in transition.sources]


def allowed_actions(stage: Stage) -> list[str]:
    return sorted({transition.action.value for transition in transitions_from(stage)})


def check(case: CaseState, action: Action) -> Transition:
    """The transition `action` takes from the case's stage; 409 naming the allowed actions when impossible."""
    for transition in TRANSITIONS:
        if transition.action is action and case.stage in transition.sources:
            for guard in transition.guards:
                reason = guard.refuses(case)
                if reason:
                    raise Conflict(
                        f"{action.value} is not possible: {reason}",
                        field="stage",
                        guard=guard.name,
                        rule=guard.rule,
                        allowed_actions=allowed_actions(case.stage),
                    )
            return transition
    allowed = allowed_actions(case.stage)
    raise Conflict(
        f"{action.value} is not possible in stage {case.stage.value}; allowed: {', '.join(allowed)}",
        field="stage",
        stage=case.stage.value,
        allowed_actions=allowed,
    )


def apply(case: CaseState, action: Action) -> Stage:
    """Check `action` and move the case; returns the stage it is in afterwards."""
    transition = check(case, action)
    if transition.target is not None:
        case.stage = transition.target
    return case.stage


def render_markdown() -> str:
    lines = [
        "# The case process",
        "",
        "Generated by `python -m case_api.cases.process` from `services/case-api/src/case_api/cases/process.py`;",
        "a test fails when this file and the table in the code differ. An action that the table does not",
        "allow from the case's stage answers `409` with the allowed actions.",
        "",
        "```mermaid",
        "stateDiagram-v2",
        "    [*] --> signalled",
    ]
    edges: dict[tuple[str, str], list[str]] = {}
    for transition in TRANSITIONS:
        if transition.target is None:
            continue
        for source in sorted(transition.sources):
            edges.setdefault((source.value, transition.target.value), []).append(transition.action.value)
    for (source_name, target_name), actions in sorted(edges.items()):
        lines.append(f"    {source_name} --> {target_name}: {', '.join(sorted(set(actions)))}")
    lines += [
        "    closed --> [*]",
        "```",
        "",
        "| action | from stages | to | guards | what it means |",
        "|---|---|---|---|---|",
    ]
    for transition in TRANSITIONS:
        sources = ", ".join(stage.value for stage in Stage if stage in transition.sources)
        target = transition.target.value if transition.target else "(stays)"
        guards = "; ".join(f"{guard.rule}: {guard.description}" for guard in transition.guards) or "-"
        lines.append(f"| `{transition.action.value}` | {sources} | {target} | {guards} | {transition.description} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.stdout.write(render_markdown())
