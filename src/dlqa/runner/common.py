"""Pieces every runner shares: timestamps, the command line, writing reports."""

from __future__ import annotations

import shlex
import sys
from datetime import UTC, datetime
from pathlib import Path

from dlqa.report.html import write_html
from dlqa.report.json_report import write_json
from dlqa.report.junit import write_junit
from dlqa.report.model import Report

WRITERS = {"json": write_json, "html": write_html, "junit": write_junit}
SUFFIXES = {"json": "report.json", "html": "report.html", "junit": "junit.xml"}


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def command_line() -> str:
    return shlex.join([Path(sys.argv[0]).name, *sys.argv[1:]])


def write_reports(
    report: Report,
    *,
    out_dir: Path | None = None,
    formats: tuple[str, ...] | list[str] = (),
    explicit: dict[str, Path | None] | None = None,
) -> dict[str, Path]:
    """Write each format in ``formats`` to ``out_dir`` and each explicit path given."""
    targets: dict[str, Path] = {}
    if out_dir is not None:
        targets.update({fmt: out_dir / SUFFIXES[fmt] for fmt in formats})
    targets.update({fmt: path for fmt, path in (explicit or {}).items() if path is not None})
    return {fmt: WRITERS[fmt](report, path) for fmt, path in targets.items()}
