"""zapgate-only worker-proxy routes of issue 13: own-device messages and history batches (docs/api.md).

The Node worker never calls them; a sidecar against a server without them gets a 404 and drops what it
would have reported, exactly as before.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends

from zapgate_control.clock import system_clock
from zapgate_control.services import own_messages
from zapgate_control.wiring import Stores, get_stores
from zapgate_control.worker_auth import require_worker
from zapgate_core.contract.own_messages import (
    HISTORY_PATH,
    OWN_MESSAGES_PATH,
    HistoryBatchRequest,
    HistoryBatchResponse,
    OwnMessagesRequest,
    OwnMessagesResponse,
)

router = APIRouter(dependencies=[Depends(require_worker)])


@router.post(OWN_MESSAGES_PATH, response_model=OwnMessagesResponse)
def own_messages_route(request: OwnMessagesRequest, stores: Stores = Depends(get_stores)) -> OwnMessagesResponse:
    """Messages this account sent from the phone or another linked device: stored as outbound, `source: phone`."""
    return own_messages.accept_own(stores.own_messages, stores.own_messages, request)


@router.post(HISTORY_PATH, response_model=HistoryBatchResponse)
def history_route(request: HistoryBatchRequest, stores: Stores = Depends(get_stores)) -> HistoryBatchResponse:
    """One batch of a history sync (≤ 100 messages); the answer carries the instance's history_sync setting."""
    return own_messages.accept_history(stores.own_messages, stores.own_messages, request, system_clock())
