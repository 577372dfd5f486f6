"""The study report: one self-contained HTML file (plots embedded as base64 PNG, no
scripts, no network), built with the standard library.

>>> from coarseopt.report import write_report      # doctest: +SKIP
>>> write_report(study, "report.html")              # doctest: +SKIP
"""

from __future__ import annotations

from .html import build_html, write_report

__all__ = ["build_html", "write_report"]
