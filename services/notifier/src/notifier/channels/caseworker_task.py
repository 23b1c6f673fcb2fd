"""The human channel: a task on the case in case-api for a caseworker to visit or call the household.

case-api creates the task once per notification (its purpose names the notification), so handing the same
notification over again never makes a second task."""

from notifier.case_api import CaseApi, CaseApiRefused, CaseApiUnavailable
from notifier.channels.base import HandOver, OutgoingMessage


class CaseworkerTaskChannel:
    name = "caseworker_task"

    def __init__(self, case_api: CaseApi) -> None:
        self._case_api = case_api

    async def send(self, message: OutgoingMessage) -> HandOver:
        try:
            task_id = await self._case_api.create_task(
                message.case_id,
                kind=message.task_kind or "home_visit",
                notification_id=message.notification_id,
                moment=message.moment,
                reason=f"{message.subject}. {message.body}"[:500],
            )
        except CaseApiUnavailable:
            return HandOver(accepted=False, permanent=False, reason="case_api_unavailable")
        except CaseApiRefused as error:
            return HandOver(accepted=False, permanent=True, reason=f"case_api_refused_{error.status_code}")
        return HandOver(accepted=True, provider_reference=f"task:{task_id}")
