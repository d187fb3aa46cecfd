# SPDX-License-Identifier: Apache-2.0
"""Greengrass Core IPC client (IoT Core MQTT operations), mirroring ``awsiot.greengrasscoreipc``."""

from __future__ import annotations

from typing import Optional

from ..eventstreamrpc import LifecycleHandler
from .client import GreengrassCoreIPCClient

__all__ = ["connect", "GreengrassCoreIPCClient"]


def connect(
    *,
    ipc_socket: Optional[str] = None,
    authtoken: Optional[str] = None,
    lifecycle_handler: Optional[LifecycleHandler] = None,
    timeout: Optional[float] = None,
    operation_timeout: Optional[float] = None,
    reconnect: bool = False,
    max_queued_events: Optional[int] = None,
) -> GreengrassCoreIPCClient:
    """Connect to the Greengrass nucleus and return a V1 client. Call ``close()`` when done.

    Args:
        ipc_socket: path of the nucleus' Unix socket; defaults to the environment variable
            ``AWS_GG_NUCLEUS_DOMAIN_SOCKET_FILEPATH_FOR_COMPONENT``.
        authtoken: the component's auth token; defaults to the environment variable ``SVCUID``.
        lifecycle_handler: receives connection events
            (see :class:`ggipc.eventstreamrpc.LifecycleHandler`).
        timeout: seconds to wait for the connection to be established (None: ggipc's default, 10 s).
        operation_timeout: (ggipc) seconds each operation may take (None: ggipc's default).
        reconnect: (ggipc) reconnect and re-subscribe automatically if the connection is lost.
        max_queued_events: (ggipc) messages queued per subscription for a slow handler; beyond it
            messages are dropped and counted (``on_stream_lagged``). None: ggipc's default (10,000).

    Raises:
        KeyError: the socket or token is neither given nor in the environment.
        ggipc.eventstreamrpc.ConnectFailedError: the socket could not be connected in time.
        ggipc.eventstreamrpc.AccessDeniedError: the nucleus rejected the auth token.
    """
    from .._connection import Connection

    connection = Connection(
        ipc_socket=ipc_socket,
        authtoken=authtoken,
        operation_timeout=operation_timeout,
        reconnect=reconnect,
        max_queued_events=max_queued_events,
    )
    connection.connect_sync(lifecycle_handler, timeout)
    return GreengrassCoreIPCClient(connection)
