"""The one place that writes a command's output files.

Every command hands its outputs here as (path, render) pairs: a pair whose path is
``None`` (option not given) is skipped, and ``render`` is only called for the files
that are written. Each file is written atomically (:func:`evalaudit.io.atomic_write`:
a temporary file in the same directory, renamed over the target), so a reader never
sees half a report and a failed run leaves the previous file in place.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

__all__ = ["write_outputs"]


def write_outputs(outputs: Iterable[tuple[str | Path | None, Callable[[], str]]]) -> list[Path]:
    """Write each ``render()`` to its path (UTF-8, atomically); returns the paths written."""
    from evalaudit.io import atomic_write

    written = []
    for path, render in outputs:
        if not path:
            continue
        text = render()
        with atomic_write(path) as fh:
            fh.write(text)
        written.append(Path(path))
    return written
