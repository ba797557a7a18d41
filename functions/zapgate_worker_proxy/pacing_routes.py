"""zapgate-only worker-proxy routes of issue 13's pacing (docs/api.md#worker-proxy-extensions-pacing).

The Node worker never calls them; a sidecar against a server without them (404) never holds a message: with a
first-contact cap it then sends as if under the cap (and logs it).
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query

from zapgate_control.services import pacing
from zapgate_control.wiring import Stores, get_stores
from zapgate_control.worker_auth import require_worker
from zapgate_core.contract.common import MAX_ID
from zapgate_core.contract.pacing import HOLD_PATH, WROTE_FIRST_PATH, HoldRequest, HoldResponse, WroteFirstResponse

router = APIRouter(dependencies=[Depends(require_worker)])


@router.post(HOLD_PATH, response_model=HoldResponse)
def hold_route(request: HoldRequest, stores: Stores = Depends(get_stores)) -> HoldResponse:
    """A claimed message handed back until `heldUntilMs`: status `held`, claimable again after it; 409 if not
    claimed."""
    return pacing.hold(stores.messages, request)


@router.get(WROTE_FIRST_PATH, response_model=WroteFirstResponse)
def wrote_first_route(
    instance_id: str = Query(alias="instanceId", min_length=1, max_length=MAX_ID),
    jid: str = Query(min_length=1, max_length=MAX_ID),
    stores: Stores = Depends(get_stores),
) -> WroteFirstResponse:
    """Whether this contact ever wrote to the instance (the first-contact cap applies to those who did not)."""
    return pacing.wrote_first(stores.contacts, instance_id, jid)
