"""Core types shared by every stage: results, gates, the check and stage registries, suites
and errors. ``core`` imports nothing of the stages: they plug in through entry points."""

from dlqa.core.errors import ConfigError, DlqaError, UsageError
from dlqa.core.gates import decide, gate_fails, verdict
from dlqa.core.params import Param
from dlqa.core.registry import CheckSpec, all_specs, get_spec, register_check
from dlqa.core.results import CheckResult, Evidence, Interval, Status
from dlqa.core.stages import StageRun, StageSpec, all_stages, get_stage, register_stage
from dlqa.core.suite import Suite, SuiteOutcome

__all__ = [
    "CheckResult",
    "CheckSpec",
    "ConfigError",
    "DlqaError",
    "Evidence",
    "Interval",
    "Param",
    "StageRun",
    "StageSpec",
    "Status",
    "Suite",
    "SuiteOutcome",
    "UsageError",
    "all_specs",
    "all_stages",
    "decide",
    "gate_fails",
    "get_spec",
    "get_stage",
    "register_check",
    "register_stage",
    "verdict",
]
