"""Runs stages end to end: probe or train, check, store, and build the report views render.

This package sits above the stages and the store (like the CLI), so that the Python API and
the CLI share one implementation.
"""

from dlqa.runner.check import CheckRun, open_configured_source, run_configured_checks
from dlqa.runner.common import WRITERS, write_reports
from dlqa.runner.data import DataRun, diff_snapshots, run_data_qa

__all__ = [
    "WRITERS",
    "CheckRun",
    "DataRun",
    "diff_snapshots",
    "open_configured_source",
    "run_configured_checks",
    "run_data_qa",
    "write_reports",
]
