"""evalaudit: audit the supply chain of an evaluation dataset.

Who labeled what, how they agree, who is lenient, and how the headline score
depends on them. The pipeline runs one way::

    ingest -> validate -> LabelTable -> statistics -> findings -> AuditResult

See ``evalaudit.audit.run_audit`` for the library entry point and
``evalaudit --help`` for the command line.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
