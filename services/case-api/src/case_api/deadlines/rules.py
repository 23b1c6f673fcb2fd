"""Which tasks a case should have on a given day (R4-R7, R10, R14): pure functions of the case's facts, the
date and the working-day calendar, no database and no clock.

`tasks.service.recompute_tasks` applies the answer: it creates the tasks that are missing, escalates open tasks
whose escalation days have come, completes open tasks whose fact is there, and cancels open tasks that no longer
apply. A task's `purpose` is unique per case and names what it is tied to (the eviction date, the stored
belongings), so applying the rules any number of times creates each task once, and a moved eviction date gives
new purposes: the tasks of the old date are cancelled and those of the new date created.
"""

from dataclasses import dataclass
from datetime import date, timedelta
from typing import TYPE_CHECKING

from case_api.cases.models import Stage
from case_api.deadlines.calendar import WorkingDayCalendar
from case_api.tasks.models import AssigneeRole, TaskKind

if TYPE_CHECKING:
    from case_api.config import Settings

_ONE_DAY = timedelta(days=1)

# The kinds these rules own: an open task of these kinds that the rules no longer want is cancelled.
RULE_KINDS = frozenset(
    {
        TaskKind.first_contact,
        TaskKind.offer_of_help,
        TaskKind.eviction_assessment,
        TaskKind.eviction_countdown,
        TaskKind.child_rights_assessment,
        TaskKind.request_postponement,
        TaskKind.belongings_deadline,
        TaskKind.belongings_reminder,
    }
)


@dataclass(frozen=True)
class Norms:
    """The configurable numbers of the deadline rules (config.Settings holds them, with these defaults)."""

    first_contact_working_days: int = 5  # R4
    offer_of_help_working_days: int = 20  # R4
    threat_first_contact_working_days: int = 3  # R5
    assessment_before_eviction_working_days: int = 5  # R6
    countdown_days: tuple[int, ...] = (14, 7, 2)  # R7, calendar days
    child_assessment_escalation_working_days: tuple[int, ...] = (5, 2)  # R10
    belongings_reminder_weeks_before_end: int = 3  # R14

    @classmethod
    def from_settings(cls, settings: "Settings") -> "Norms":
        return cls(
            first_contact_working_days=settings.first_contact_working_days,
            offer_of_help_working_days=settings.offer_of_help_working_days,
            threat_first_contact_working_days=settings.threat_first_contact_working_days,
            assessment_before_eviction_working_days=settings.assessment_before_eviction_working_days,
            countdown_days=tuple(settings.countdown_days),
            child_assessment_escalation_working_days=tuple(settings.child_assessment_escalation_working_days),
            belongings_reminder_weeks_before_end=settings.belongings_reminder_weeks_before_end,
        )


@dataclass(frozen=True)
class BelongingsFacts:
    belongings_id: str
    retention_ends_on: date  # R14: the 13-week end
    settled: bool  # returned or disposed


@dataclass(frozen=True)
class CaseFacts:
    """What the deadline rules look at, as local dates in Europe/Amsterdam."""

    stage: Stage
    has_minors: bool = False
    first_signal_on: date | None = None
    first_contact_on: date | None = None
    # R5: the first day the municipality knew of a threat (summons, judgment, eviction date or crisis signal).
    threatened_on: date | None = None
    support_started: bool = False
    eviction_date: date | None = None
    child_assessment_completed: bool = False
    # R10 at T-2: the corporation was asked to postpone this eviction date (partner_requests).
    postponement_requested: bool = False
    belongings: tuple[BelongingsFacts, ...] = ()


@dataclass(frozen=True)
class DesiredTask:
    kind: TaskKind
    purpose: str
    rule: str
    due_date: date
    assignee_role: AssigneeRole
    # The days from which an open task escalates one level further (usually the day after the due date).
    escalate_on: tuple[date, ...]
    # What the task asks for is there: an open task is completed, a missing one is not created.
    satisfied: bool = False
    # False: an existing task stays, but a missing one is not created (its moment has passed).
    create: bool = True

    def escalation_level(self, today: date) -> int:
        """The escalation level an open task should have reached on `today`."""
        return sum(1 for day in self.escalate_on if day <= today)


def _when_overdue(due: date) -> tuple[date, ...]:
    # Overdue once the local date is after the due date (deadlines.calendar).
    return (due + _ONE_DAY,)


def desired_tasks(facts: CaseFacts, *, today: date, calendar: WorkingDayCalendar, norms: Norms) -> list[DesiredTask]:
    """Every task the case should have on `today`; a closed case should have none."""
    if facts.stage is Stage.closed:
        return []
    tasks = _first_contact(facts, calendar, norms)
    if facts.stage is Stage.eviction_scheduled and facts.eviction_date is not None:
        tasks += _eviction(facts, facts.eviction_date, today, calendar, norms)
    tasks += _belongings(facts, norms)
    return tasks


def _first_contact(facts: CaseFacts, calendar: WorkingDayCalendar, norms: Norms) -> list[DesiredTask]:
    contacted = facts.first_contact_on is not None
    tasks: list[DesiredTask] = []
    if facts.first_signal_on is not None:
        # R4: first contact within 5 working days of the signal, an offer of help within 20.
        due = calendar.add_working_days(facts.first_signal_on, norms.first_contact_working_days)
        tasks.append(
            DesiredTask(
                TaskKind.first_contact,
                "first_contact:R4",
                "R4",
                due,
                AssigneeRole.outreach_worker,
                _when_overdue(due),
                satisfied=contacted,
            )
        )
        due = calendar.add_working_days(facts.first_signal_on, norms.offer_of_help_working_days)
        tasks.append(
            DesiredTask(
                TaskKind.offer_of_help,
                "offer_of_help:R4",
                "R4",
                due,
                AssigneeRole.outreach_worker,
                _when_overdue(due),
                satisfied=facts.support_started,
            )
        )
    if facts.threatened_on is not None:
        # R5: in a threatening situation the first contact is due within 3 working days.
        due = calendar.add_working_days(facts.threatened_on, norms.threat_first_contact_working_days)
        tasks.append(
            DesiredTask(
                TaskKind.first_contact,
                "first_contact:R5",
                "R5",
                due,
                AssigneeRole.outreach_worker,
                _when_overdue(due),
                satisfied=contacted,
            )
        )
    return tasks


def _eviction(
    facts: CaseFacts, eviction_date: date, today: date, calendar: WorkingDayCalendar, norms: Norms
) -> list[DesiredTask]:
    on = eviction_date.isoformat()
    # R6: can the eviction still be averted? Created at once, due 5 working days before the date.
    due = calendar.subtract_working_days(eviction_date, norms.assessment_before_eviction_working_days)
    tasks = [
        DesiredTask(
            TaskKind.eviction_assessment,
            f"eviction_assessment:{on}",
            "R6",
            due,
            AssigneeRole.debt_counsellor,
            _when_overdue(due),
        )
    ]
    # R7: reminders T-14, T-7, T-2 calendar days before the date; one whose day has passed is not created late.
    for days in norms.countdown_days:
        due = eviction_date - timedelta(days=days)
        tasks.append(
            DesiredTask(
                TaskKind.eviction_countdown,
                f"eviction_countdown:T-{days}:{on}",
                "R7",
                due,
                AssigneeRole.debt_counsellor,
                _when_overdue(due),
                create=due >= today,
            )
        )
    if facts.has_minors and norms.child_assessment_escalation_working_days:
        # R10: the child-rights assessment is due at T-5 working days; missing then, it escalates to the team
        # lead on that day, and again at T-2, when the team lead is asked to request a postponement.
        moments = tuple(
            calendar.subtract_working_days(eviction_date, n) for n in norms.child_assessment_escalation_working_days
        )
        tasks.append(
            DesiredTask(
                TaskKind.child_rights_assessment,
                f"child_rights_assessment:{on}",
                "R10",
                moments[0],
                AssigneeRole.debt_counsellor,
                moments,
                satisfied=facts.child_assessment_completed,
            )
        )
        last = moments[-1]
        if today >= last:
            # Once asked, the request stays (the corporation may have been told), even when the assessment follows;
            # recording the request to postpone (addressed to the corporation, for this date) completes it.
            tasks.append(
                DesiredTask(
                    TaskKind.request_postponement,
                    f"request_postponement:{on}",
                    "R10",
                    last,
                    AssigneeRole.team_lead,
                    _when_overdue(last),
                    satisfied=facts.postponement_requested,
                    create=not facts.child_assessment_completed,
                )
            )
    return tasks


def _belongings(facts: CaseFacts, norms: Norms) -> list[DesiredTask]:
    tasks: list[DesiredTask] = []
    for stored in facts.belongings:
        # R14: the owner is reminded 3 weeks before the 13-week end; at the end the goods may be sold or destroyed.
        end = stored.retention_ends_on
        reminder = end - timedelta(weeks=norms.belongings_reminder_weeks_before_end)
        tasks += [
            DesiredTask(
                TaskKind.belongings_reminder,
                f"belongings_reminder:{stored.belongings_id}",
                "R14",
                reminder,
                AssigneeRole.debt_counsellor,
                _when_overdue(reminder),
                satisfied=stored.settled,
            ),
            DesiredTask(
                TaskKind.belongings_deadline,
                f"belongings_deadline:{stored.belongings_id}",
                "R14",
                end,
                AssigneeRole.debt_counsellor,
                _when_overdue(end),
                satisfied=stored.settled,
            ),
        ]
    return tasks
