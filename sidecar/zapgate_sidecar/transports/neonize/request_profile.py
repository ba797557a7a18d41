"""Requests about this account's own profile over neonize: its push name and its about text.

Each ``<op>_on(client, args)`` runs inside the session's request fence (session_requests): ``set_profile_name``
aborts the Go process on a client that is not logged in (observed), so it is never called outside it.

* ``set_profile_name`` is whatsmeow ``SendAppState(BuildSettingPushName(name))``: an app-state patch the
  account's other devices apply; whatsmeow's own copy of the push name (sent with presences) follows when the
  patch comes back.
* ``set_status_message`` is whatsmeow ``SetStatusMessage`` (a GraphQL "mex" query); whatsmeow does not read
  the answer's content ("TODO check output result"), so success means the server answered without an error.
  An empty text is sent as is, which clears the about text.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from zapgate_core.contract.request_ops.outcomes import Done
from zapgate_core.contract.request_ops.profile import ProfileAboutArgs, ProfileNameArgs
from zapgate_sidecar.transports.neonize.request_errors import request_error

if TYPE_CHECKING:
    from neonize.client import NewClient


def profile_name_on(client: NewClient, args: ProfileNameArgs) -> Done:
    try:
        client.set_profile_name(args.name)
    except Exception as exc:
        raise request_error("profile name", exc) from exc
    return Done()


def profile_about_on(client: NewClient, args: ProfileAboutArgs) -> Done:
    try:
        client.set_status_message(args.about)
    except Exception as exc:
        raise request_error("profile about", exc) from exc
    return Done()
