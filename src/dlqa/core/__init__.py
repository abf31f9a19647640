"""Core types shared by every stage: results, the check registry, suites and errors."""

from dlqa.core.errors import ConfigError, DlqaError, UsageError
from dlqa.core.registry import CheckSpec, all_specs, get_spec, register_check
from dlqa.core.results import CheckResult, Evidence, Status
from dlqa.core.suite import Suite, SuiteOutcome

__all__ = [
    "CheckResult",
    "CheckSpec",
    "ConfigError",
    "DlqaError",
    "Evidence",
    "Status",
    "Suite",
    "SuiteOutcome",
    "UsageError",
    "all_specs",
    "get_spec",
    "register_check",
]
