"""REST endpoints of the signals domain beyond receiving them (cases/router.py): parse, call one service function,
return."""

from fastapi import APIRouter

from case_api.deps import PartnerCaseContext
from case_api.signals import service
from case_api.signals.schemas import ArrearsCleared, ArrearsClearedReceipt

router = APIRouter(prefix="/v1/cases/{case_id}/signals", tags=["signals"])


@router.post("/arrears-cleared", response_model=ArrearsClearedReceipt)
async def clear_arrears(case_id: str, body: ArrearsCleared, ctx: PartnerCaseContext) -> ArrearsClearedReceipt:
    """A partner's arrears were paid: its signals of that reference are resolved (signal.resolved); the case
    closes as paid_or_arranged_by_themselves when nothing else runs, else a task asks to close it or carry on."""
    return await service.clear_arrears(ctx, case_id=case_id, request=body)
