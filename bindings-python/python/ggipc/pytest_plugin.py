# SPDX-License-Identifier: Apache-2.0
"""pytest fixtures of :mod:`ggipc.testing` (registered through the ``pytest11`` entry point).

* ``ggipc_nucleus`` — a started :class:`~ggipc.testing.LocalNucleus` with the environment set.
* ``ggipc_component`` / ``ggipc_policy`` — its component name and policy; override them in a
  test module or ``conftest.py`` to change what the component may do.
"""

from __future__ import annotations

from typing import Any, Dict, Iterator

import pytest

from .testing import ALLOW_ALL, LocalNucleus


@pytest.fixture
def ggipc_component() -> str:
    """Name of the component under test."""
    return "com.example.ComponentUnderTest"


@pytest.fixture
def ggipc_policy() -> Dict[str, Any]:
    """The component's ``accessControl`` policy (everything allowed by default)."""
    return ALLOW_ALL


@pytest.fixture
def ggipc_nucleus(ggipc_component: str, ggipc_policy: Dict[str, Any]) -> Iterator[LocalNucleus]:
    """An in-process nucleus; the environment points the code under test at it."""
    with LocalNucleus(component=ggipc_component, policy=ggipc_policy) as nucleus:
        yield nucleus
