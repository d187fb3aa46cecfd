# SPDX-License-Identifier: Apache-2.0
"""ggipc: AWS IoT Greengrass v2 Core IPC (IoT Core MQTT) for Python, implemented in Rust.

Modules:

* :mod:`ggipc.greengrasscoreipc` — drop-in for ``awsiot.greengrasscoreipc`` (``connect``, V1
  ``client``, ``clientv2``, ``model``).
* :mod:`ggipc.eventstreamrpc` — drop-in for ``awsiot.eventstreamrpc`` (LifecycleHandler, errors).
* :mod:`ggipc.aio` — native asyncio client.
* :mod:`ggipc.testing` — an in-process nucleus for your component's tests.
"""

from __future__ import annotations

from . import _core  # noqa: F401  (wires the native module to the Python error classes)
from ._ggipc import __version__
from .eventstreamrpc import GgipcError

__all__ = ["GgipcError", "__version__"]
