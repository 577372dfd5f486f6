"""Progress bars for long work, shown only where a person is watching.

``enabled=None`` (the default everywhere) shows a bar when standard error is a terminal
and ``COARSEOPT_PROGRESS`` is not ``0``; ``True``/``False`` force it on or off.
"""

from __future__ import annotations

import os
import sys
from typing import Any

__all__ = ["progress_bar", "progress_enabled"]


def progress_enabled(enabled: bool | None = None) -> bool:
    if enabled is not None:
        return bool(enabled)
    if os.environ.get("COARSEOPT_PROGRESS", "") == "0":
        return False
    return bool(getattr(sys.stderr, "isatty", lambda: False)())


class _NoBar:
    """Stands in for a tqdm bar when progress display is off."""

    n = 0

    def update(self, n: int = 1) -> None:
        self.n += n

    def set_postfix_str(self, s: str = "", refresh: bool = True) -> None:
        pass

    def set_description(self, desc: str = "", refresh: bool = True) -> None:
        pass

    def close(self) -> None:
        pass

    def __enter__(self) -> "_NoBar":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def progress_bar(total: int | None = None, desc: str = "", unit: str = "it", enabled: bool | None = None):
    """A ``tqdm`` bar on standard error, or a silent stand-in with the same methods."""
    if not progress_enabled(enabled):
        return _NoBar()
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit=unit, leave=False, file=sys.stderr)
