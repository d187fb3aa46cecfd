# SPDX-License-Identifier: Apache-2.0
"""The type stubs match the modules: every public name of the native module is in ``_ggipc.pyi``
with the same methods, and nothing the stub declares is missing from the module."""

from __future__ import annotations

import ast
import importlib.resources
import inspect
import os

import ggipc
from ggipc import _ggipc


def _stub_tree() -> ast.Module:
    path = os.path.join(os.path.dirname(ggipc.__file__), "_ggipc.pyi")
    with open(path) as f:
        return ast.parse(f.read())


def test_py_typed_is_shipped():
    assert importlib.resources.files("ggipc").joinpath("py.typed").is_file()
    assert importlib.resources.files("ggipc").joinpath("_ggipc.pyi").is_file()


def test_native_stub_matches_module():
    tree = _stub_tree()
    stub_funcs = {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}
    stub_classes = {n.name: n for n in tree.body if isinstance(n, ast.ClassDef)}
    stub_vars = {
        n.target.id for n in tree.body if isinstance(n, ast.AnnAssign) and isinstance(n.target, ast.Name)
    }
    module_public = {n for n in dir(_ggipc) if not n.startswith("__")}
    aliases = ("Message", "UserProps", "WireValue")  # type aliases of the stub only
    declared = stub_funcs | set(stub_classes) | {v for v in stub_vars if v not in aliases}
    declared.add("__version__")
    module_public.add("__version__")
    assert declared == module_public

    for name, node in stub_classes.items():
        cls = getattr(_ggipc, name)
        stub_members = {n.name for n in node.body if isinstance(n, ast.FunctionDef)}
        stub_members.discard("__init__")
        actual = {m for m in vars(cls) if not m.startswith("_")}
        assert stub_members == actual, name
        for m in stub_members:
            node_fn = next(n for n in node.body if isinstance(n, ast.FunctionDef) and n.name == m)
            is_prop = any(isinstance(d, ast.Name) and d.id == "property" for d in node_fn.decorator_list)
            member = inspect.getattr_static(cls, m)
            if isinstance(member, (staticmethod, classmethod)):
                member = member.__func__
            assert callable(member) != is_prop or is_prop and not callable(member), (name, m)
            if not is_prop and getattr(member, "__text_signature__", None):
                stub_params = [a.arg for a in node_fn.args.args if a.arg != "self"]
                sig = inspect.signature(getattr(cls, m))
                real = [p for p in sig.parameters if p not in ("self", "$self")]
                assert stub_params == real, (name, m, stub_params, real)


def test_error_kinds_are_exposed():
    assert _ggipc.ERROR_KINDS["UnauthorizedError"] == 101
    assert _ggipc.ERROR_KINDS["ConnectionClosed"] == 3
