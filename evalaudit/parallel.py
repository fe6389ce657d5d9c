"""Whether independent pipeline steps may run on a second thread.

numpy and pandas release the GIL in the sorts, group-bys and bincounts that
dominate the audit, so two independent steps on two threads use two cores.
"""

from __future__ import annotations

import os

__all__ = ["THREADS_ENV", "parallel_steps"]

#: ``EVALAUDIT_THREADS=1`` runs every step on one thread (the default uses two when the
#: machine has two or more cores).
THREADS_ENV = "EVALAUDIT_THREADS"


def parallel_steps() -> bool:
    """Whether independent steps may run on a second thread."""
    forced = os.environ.get(THREADS_ENV, "").strip()
    if forced:
        return forced != "1"
    return (os.cpu_count() or 1) >= 2
