"""evalaudit: audit the supply chain of an evaluation dataset.

Who labeled what, how they agree, who is lenient, and how the headline score
depends on them. The pipeline runs one way::

    ingest -> validate -> LabelTable -> statistics -> findings -> AuditResult

The Python API (see :mod:`evalaudit.api`)::

    import evalaudit
    result = evalaudit.audit(df_or_path)      # an AuditResult
    verdict = evalaudit.gate(df_or_path)      # a GateResult (.verdict, .exit_code)
    labels = evalaudit.read_labels(df_or_path)

and ``evalaudit --help`` for the command line.
"""

from __future__ import annotations

import sys
import types
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # for type checkers and IDEs; at run time they load on first use
    from evalaudit.api import audit, gate, read_labels

__version__ = "0.1.0"

__all__ = ["__version__", "audit", "gate", "read_labels"]

#: The API functions, loaded on first use: ``import evalaudit`` (and so ``import
#: evalaudit.io`` or ``evalaudit.validate``) stays light, and the statistics are
#: imported only by an audit.
_API = ("audit", "gate", "read_labels")


class _Package(types.ModuleType):
    """The ``evalaudit`` package, whose ``audit`` and ``gate`` are the API functions.

    The submodules ``evalaudit.audit`` and ``evalaudit.gate`` share those names: when
    Python imports a submodule it sets it as an attribute of the package, which would
    replace the function. That one assignment is ignored here, so ``evalaudit.audit``
    stays the function while ``from evalaudit.audit import run_audit`` (through
    ``sys.modules``) keeps working.
    """

    def __setattr__(self, name: str, value: Any) -> None:
        if name in _API and isinstance(value, types.ModuleType):
            return
        super().__setattr__(name, value)

    def __getattr__(self, name: str) -> Any:
        if name in _API:
            from evalaudit import api

            value = getattr(api, name)
            super().__setattr__(name, value)
            return value
        raise AttributeError(f"module 'evalaudit' has no attribute {name!r}")

    def __dir__(self) -> list[str]:
        return sorted({*super().__dir__(), *_API})


sys.modules[__name__].__class__ = _Package
