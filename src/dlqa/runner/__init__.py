"""Runs stages end to end through one run lifecycle: store, provenance, checks, reports.

This package sits above the stages and the store (like the CLI), so that the Python API and
the CLI share one implementation.
"""

from dlqa.runner.batches import run_batch_checks
from dlqa.runner.check import run_configured_checks
from dlqa.runner.data import diff_snapshots, run_data_qa
from dlqa.runner.drift import drift_check_ids, run_drift
from dlqa.runner.labels import run_label_agreement
from dlqa.runner.reports import WRITERS, load_report, write_reports
from dlqa.runner.session import RunSession, command_line, configured_stages

__all__ = [
    "WRITERS",
    "RunSession",
    "command_line",
    "configured_stages",
    "diff_snapshots",
    "drift_check_ids",
    "load_report",
    "run_batch_checks",
    "run_configured_checks",
    "run_data_qa",
    "run_drift",
    "run_label_agreement",
    "write_reports",
]
