"""Stage 8, report: one module per output format, each a function of a ``ScanResult``.

Formatters only read the result; no stage prints.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TextIO

from gupaudit.model import ScanResult
from gupaudit.report import csv as csv_report
from gupaudit.report import json as json_report
from gupaudit.report import markdown, sarif, terminal

Render = Callable[[ScanResult, TextIO, bool, str], None]

FORMATS: dict[str, Render] = {
    "text": terminal.render,
    "json": json_report.render,
    "markdown": markdown.render,
    "sarif": sarif.render,
    "csv": csv_report.render,
}
