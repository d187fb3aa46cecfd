# SPDX-License-Identifier: Apache-2.0
"""Glue between the native module ``ggipc._ggipc`` and the public Python classes.

The native module knows nothing about the Python model: it hands over plain tuples and asks
this module to build exceptions. Everything here is private.
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import threading
from typing import Any, Callable, Dict, Optional, Type

from . import _ggipc
from . import eventstreamrpc as rpc
from .greengrasscoreipc import model

logger = logging.getLogger("ggipc")


def _configure_logging() -> bool:
    """``GGIPC_LOG=debug|info|warning`` sends ggipc's log to stderr (handy for a component's log)."""
    level = os.environ.get("GGIPC_LOG")
    if level:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        logger.addHandler(handler)
        logger.setLevel(level.upper())
    return logger.isEnabledFor(logging.DEBUG)


#: Whether each delivered event is logged (decided once, at import, to keep the event path lean).
DEBUG_EVENTS = _configure_logging()

#: Event kinds in the batches the native dispatcher delivers (see ``_ggipc.pyi``).
EV_MESSAGE = 0
EV_ERROR = 1
EV_INTERRUPTED = 2
EV_RESUMED = 3
EV_CLOSED = 4
EV_LAGGED = 5
EV_UNDECODABLE = 6

#: Lifecycle event kinds.
LC_CONNECTED = 0
LC_DISCONNECTED = 1
LC_ERROR = 2
LC_PING = 3
LC_GAVE_UP = 4

SOCKET_ENV = "AWS_GG_NUCLEUS_DOMAIN_SOCKET_FILEPATH_FOR_COMPONENT"
TOKEN_ENV = "SVCUID"

_TRANSPORT_CLASSES: Dict[str, Type[rpc.GgipcError]] = {
    "ConnectFailed": rpc.ConnectFailedError,
    "AccessDenied": rpc.AccessDeniedError,
    "ConnectionClosed": rpc.ConnectionClosedError,
    "Timeout": rpc.OperationTimeoutError,
    "Protocol": rpc.EventStreamError,
    "InvalidFrame": rpc.EventStreamError,
    "InvalidArgument": rpc.InvalidArgumentError,
    "StreamClosed": rpc.StreamClosedError,
    "Unmapped": rpc.UnmappedDataError,
    "Internal": rpc.InternalError,
}

_MODELED_CLASSES: Dict[str, Type[model.GreengrassCoreIPCError]] = {
    cls.__name__: cls for cls in model._ERROR_CLASSES
}


def make_error(
    kind: str, code: int, message: Optional[str], context: Optional[str] = None, body: Optional[str] = None
) -> BaseException:
    """Build the Python exception for a native error (called by the native module).

    A modeled error is built from the server's JSON ``body`` when there is one (so its extra members,
    e.g. ``ServiceError.context``, are set), else from ``message`` and ``context``.
    """
    modeled = _MODELED_CLASSES.get(kind)
    if modeled is not None:
        fields: Dict[str, Any] = {}
        if body is not None:
            try:
                fields = json.loads(body)
            except ValueError:
                fields = {}
            if not isinstance(fields, dict):
                fields = {}
        elif context is not None:
            try:
                fields = {"context": json.loads(context)}
            except ValueError:
                pass
        fields["message"] = message
        try:
            return modeled._from_payload(fields)
        except Exception:
            return modeled._from_payload({"message": message})
    exc = _TRANSPORT_CLASSES.get(kind, rpc.InternalError)(message)
    exc.kind = kind
    exc.code = code
    return exc


def _init_codes() -> None:
    kinds: Dict[str, int] = _ggipc.ERROR_KINDS
    for name, cls in _TRANSPORT_CLASSES.items():
        if "code" not in cls.__dict__ and name in kinds:
            # the first kind mapped to a class gives the class its default code; errors built
            # by make_error() carry their exact kind and code
            setattr(cls, "code", kinds[name])
    for name, cls in _MODELED_CLASSES.items():
        setattr(cls, "code", kinds.get(name, 0))


_ggipc._set_error_factory(make_error)
_init_codes()
#: Set when the interpreter starts exiting; Python code waiting on ggipc threads stops waiting.
EXITING = threading.Event()


def _at_exit() -> None:
    # Before the interpreter finalizes, no ggipc thread may be left inside Python or waiting for it.
    EXITING.set()
    _ggipc._shutdown()


atexit.register(_at_exit)


def resolve_socket(ipc_socket: Optional[str]) -> str:
    """``ipc_socket``, else the component's socket path as the core reads it; ``KeyError`` naming the
    variable when it is unset or empty (the official SDK's ``os.environ[...]`` lookup)."""
    if ipc_socket:
        return ipc_socket
    path = _ggipc.component_socket_path()
    if path is None:
        raise KeyError(SOCKET_ENV)
    return path


def resolve_token(authtoken: Optional[str]) -> str:
    """``authtoken``, else the component's SVCUID as the core reads it; ``KeyError`` naming the variable
    when it is unset or empty."""
    if authtoken:
        return authtoken
    token = _ggipc.component_auth_token()
    if token is None:
        raise KeyError(TOKEN_ENV)
    return token


def call_handler(fn: Callable[..., Any], *args: Any) -> Any:
    """Run a user callback; an exception is logged, never propagated into ggipc's threads."""
    try:
        return fn(*args)
    except Exception:
        logger.exception("unhandled exception in %r", fn)
        return None
