"""Progress lines on stderr: one per pipeline step, with rows done / total and the rate.

:class:`evalaudit.audit.Profiler` opens a :class:`StepLine` around each step when progress is
on; code deep inside a step (a reader streaming batches) tells it how far it got with
:func:`report_rows`, without being handed anything: the line of the running step is a
context variable, so a step on another thread (which has a context of its own) is never told
about rows it did not read.

On a terminal the line is rewritten in place (``\\r``); anywhere else (``--progress`` into a
log) an update is a line of its own, at most one every :data:`LOG_INTERVAL` seconds, so a
log stays readable.
"""

from __future__ import annotations

import contextvars
import sys
import threading
import time
from typing import TextIO

__all__ = ["StepLine", "report_rows", "stderr_is_terminal"]

#: Seconds between two rewrites of a terminal line.
LIVE_INTERVAL = 0.2
#: Seconds between two update lines when stderr is not a terminal.
LOG_INTERVAL = 5.0

_CURRENT: contextvars.ContextVar[StepLine | None] = contextvars.ContextVar(
    "evalaudit_progress", default=None
)
#: one writer at a time: steps on two threads share stderr
_WRITE = threading.Lock()


def stderr_is_terminal() -> bool:
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):  # replaced or closed stderr
        return False


def _rate(rows: float, seconds: float) -> str:
    per_s = rows / seconds if seconds > 0 else 0.0
    for unit, size in (("M", 1e6), ("k", 1e3)):
        if per_s >= size:
            return f"{per_s / size:.1f}{unit} rows/s"
    return f"{per_s:.0f} rows/s"


class StepLine:
    """The progress line of one step: ``evalaudit: NAME  done / total rows  rate``."""

    def __init__(
        self,
        name: str,
        total: int | None,
        stream: TextIO | None = None,
        live: bool | None = None,
    ) -> None:
        self.name = name
        self.total = total
        self.stream = stream if stream is not None else sys.stderr
        self.live = stderr_is_terminal() if live is None else live
        self.started = time.perf_counter()
        self.done = 0
        self._shown = self.started
        self._token: contextvars.Token[StepLine | None] | None = None
        self._open = False  # a live line is on screen without its newline

    def __enter__(self) -> StepLine:
        self._write(f"evalaudit: {self.name} ...", final=not self.live)
        self._token = _CURRENT.set(self)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._token is not None:
            _CURRENT.reset(self._token)
        if exc[0] is not None:
            self._write(f"evalaudit: {self.name} stopped", final=True)
            return
        if self.total is not None:
            self.done = max(self.done, self.total)
        elapsed = time.perf_counter() - self.started
        self._write(f"{self._counts()} in {elapsed:.1f} s ({_rate(self.done, elapsed)})", True)

    def rows(self, done: int, total: int | None = None) -> None:
        """``done`` rows of the step's input are through (``total`` if it became known)."""
        self.done = done
        if total is not None:
            self.total = total
        now = time.perf_counter()
        if now - self._shown < (LIVE_INTERVAL if self.live else LOG_INTERVAL):
            return
        self._shown = now
        self._write(f"{self._counts()}  {_rate(done, now - self.started)}", final=not self.live)

    def _counts(self) -> str:
        of = f" / {self.total:,}" if self.total is not None else ""
        return f"evalaudit: {self.name}  {self.done:,}{of} rows"

    def _write(self, text: str, final: bool) -> None:
        with _WRITE:
            if self.live:
                # rewrite the line in place; pad over a longer previous text
                self.stream.write("\r" + text.ljust(72) + ("\n" if final else ""))
                self._open = not final
            else:
                self.stream.write(text + "\n")
            self.stream.flush()


def report_rows(done: int, total: int | None = None) -> None:
    """Tell the running step's progress line (if any, on this thread) how far it got."""
    line = _CURRENT.get()
    if line is not None:
        line.rows(done, total)
