"""Importing neonize (and its Go library) once, lazily, and patching what neonize 0.5.2 gets wrong.

Importing neonize loads its Go library (0.25-0.5 s and ~50 MB RSS, see docs/benchmarks-sidecar.md),
so nothing imports it at module level: a session calls ``load_neonize`` on its own thread at start(),
and every lazy ``from neonize... import`` elsewhere follows a call to it.

``decrypt_poll_vote`` is broken as shipped: ``_binder`` leaves ``DecryptPollVote`` out of the functions
whose ``Bytes`` result it copies and frees, so the method hands a ctypes pointer to ``FromString`` and
raises ``TypeError`` even when whatsmeow decrypted the vote. ``load_neonize`` registers the missing hook.
"""

from __future__ import annotations

import ctypes
import threading
from functools import cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from neonize.client import NewClient

_import_lock = threading.Lock()


def load_neonize() -> None:
    """Import neonize (and its Go library) once, under a lock.

    neonize's package imports are circular (neonize -> client -> utils -> proto -> neonize);
    two threads importing parts of it at once deadlock on the module locks (observed:
    ``_DeadlockError`` between a session thread and a send()). Every lazy import of neonize is
    preceded by this call, after which they are plain sys.modules lookups.
    """
    with _import_lock:
        import neonize.client  # noqa: F401

        _repair_decrypt_poll_vote()


def _repair_decrypt_poll_vote() -> None:
    """Give DecryptPollVote the result hook neonize 0.5.2 forgot (see the module docstring); a neonize that
    has one, or returns something else, is left alone."""
    from neonize import _binder

    function = getattr(_binder.gocode, "DecryptPollVote", None)  # absent only from neonize's docs build
    if function is None or getattr(function, "errcheck", None) is not None:
        return
    if function.restype is ctypes.POINTER(_binder.Bytes):
        function.errcheck = _binder.consume_bytes_struct


@cache
def client_class() -> type[NewClient]:
    """NewClient that reports the QR channel's outcome instead of printing it.

    neonize hands ``self.__onLoginStatus`` (name-mangled) to Go and its default only prints
    the status; defining the mangled name in a subclass is the one way to receive it.
    """
    load_neonize()
    from neonize.client import NewClient

    class _ZapgateClient(NewClient):
        login_status_sink: Any = None

        def _NewClient__onLoginStatus(self, _uuid: int, status: int) -> None:
            sink = self.login_status_sink
            if sink is not None:
                sink(ctypes.string_at(status).decode(errors="replace"))

    return _ZapgateClient
