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

__version__ = "0.1.0"

# The submodules evalaudit.audit and evalaudit.gate share their names with the API
# functions. Importing them first means no later ``import evalaudit.audit`` rebinds
# the package attribute: ``evalaudit.audit`` stays the function, while
# ``from evalaudit.audit import run_audit`` keeps working through sys.modules.
import evalaudit.audit as _audit_module
import evalaudit.gate as _gate_module
from evalaudit.api import audit, gate, read_labels

del _audit_module, _gate_module

__all__ = ["__version__", "audit", "gate", "read_labels"]
