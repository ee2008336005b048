"""Lazy exports of a package: a name's module is imported when the name is first used.

Each step of the workflow is its own process, so every import a step does not need is paid
once per job (scanpy, scirpy, squidpy and matplotlib take seconds together). The packages
therefore name their exports here instead of importing them, as scverse packages do with a
module ``__getattr__`` (PEP 562): ``rp.pp.qc``, ``from repertoire.pp import qc`` and
``dir(rp.pp)`` behave as with eager imports, and ``import repertoire`` costs almost nothing.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping, Sequence


def attach(
    package: str,
    exports: Mapping[str, Sequence[str]],
    *,
    renamed: Mapping[str, tuple[str, str]] | None = None,
) -> tuple[Callable[[str], object], Callable[[], list[str]], list[str]]:
    """Return ``__getattr__``, ``__dir__`` and ``__all__`` of a package with lazy exports.

    Parameters
    ----------
    package
        The package's ``__name__``.
    exports
        Each submodule (relative name, such as ``"_qc"``) and the names it exports; a
        submodule exported as itself (``"pp"`` of ``repertoire``) lists no names.
    renamed
        Names exported under another name: public name to (submodule, name in it).

    Returns
    -------
    The module's ``__getattr__`` (imports the submodule of a name on first use and keeps the
    value as a module attribute, so the next use is a plain lookup), its ``__dir__`` and its
    ``__all__``.
    """
    where = {name: (module, name) for module, names in exports.items() for name in names}
    where.update(renamed or {})
    submodules = {module for module, names in exports.items() if not names}
    public = sorted(set(where) | submodules)

    def __getattr__(name: str) -> object:
        if name in submodules:
            return importlib.import_module(f"{package}.{name}")
        if name not in where:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        module, attribute = where[name]
        value = getattr(importlib.import_module(f"{package}.{module}"), attribute)
        setattr(sys.modules[package], name, value)
        return value

    def __dir__() -> list[str]:
        return sorted(set(vars(sys.modules[package])) | set(public))

    return __getattr__, __dir__, public
