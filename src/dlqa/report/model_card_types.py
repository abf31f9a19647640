"""The model card's sections: the dataclasses that ``dlqa.runner.model_card`` fills from
stored runs and :mod:`dlqa.report.model_card_markdown` and :mod:`dlqa.report.model_card_html`
render. A piece the store does not hold is a :class:`Missing`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from dlqa._version import __version__

__all__ = [
    "STATUS_ORDER",
    "CalibrationInfo",
    "ClassRow",
    "DataEntry",
    "Deployment",
    "Issue",
    "Measure",
    "Missing",
    "ModelCard",
    "ModelInfo",
    "ParityRow",
    "Provenance",
    "RunRef",
    "SnapshotInfo",
]

# The order in which issues and statuses are shown: the worst first.
STATUS_ORDER = ("fail", "error", "inconclusive", "warn", "skip", "pass")


@dataclass(frozen=True)
class Missing:
    """A piece of the card that the store does not hold: what is missing, and how to make it."""

    what: str
    command: str | None = None  # the command that produces it, shown as code
    note: str = ""  # anything else the reader needs (shown after the command)


@dataclass(frozen=True)
class RunRef:
    """A stored run the card draws on, with where it came from."""

    id: int
    role: str  # "evaluation", "deployment", "data checks of the test set", ...
    kind: str
    status: str
    created_at: str
    finished_at: str | None
    command: str
    exit_code: int | None = None
    dlqa_version: str | None = None
    git: str | None = None  # "commit (dirty)" when the run recorded its git state
    config_sha256: str | None = None


@dataclass(frozen=True)
class Measure:
    """One stored figure: a result's value with its interval, n, threshold and status, or an
    evidence row of one (a class's recall, a slice's accuracy)."""

    label: str
    value: float | None
    status: str | None = None
    low: float | None = None
    high: float | None = None
    level: float | None = None
    n: int | None = None
    threshold: float | None = None
    summary: str = ""
    run_id: int | None = None
    check: str = ""  # the stored result it comes from: "eval.accuracy", "deploy.parity[x]"


@dataclass(frozen=True)
class ClassRow:
    """One class of ``eval.per_class``: its table row and its recall interval."""

    name: str
    support: int | None
    precision: float | None
    precision_interval: str
    recall: Measure
    f1: float | None
    f1_interval: str


@dataclass(frozen=True)
class CalibrationInfo:
    ece: Measure
    brier: float | None = None
    brier_low: float | None = None
    brier_high: float | None = None
    mean_confidence: float | None = None
    accuracy: float | None = None
    n_bins: int | None = None


@dataclass(frozen=True)
class ParityRow:
    """One target of ``deploy.parity`` (onnx_fp32, onnx_fp16, ...)."""

    target: str
    status: str
    summary: str
    agreement: Measure  # top-1 agreement with its interval
    max_abs_diff: float | None = None
    reference_accuracy: float | None = None
    target_accuracy: float | None = None
    accuracy_delta: float | None = None
    error: str | None = None


@dataclass(frozen=True)
class ModelInfo:
    name: str | None
    weights: str | None = None
    bundle_path: str | None = None
    bundle_fingerprint: str | None = None
    weights_fingerprint: str | None = None
    classes: int | None = None
    modality: str | None = None
    failed_inputs: int | None = None


@dataclass(frozen=True)
class SnapshotInfo:
    id: int
    run_id: int
    created_at: str
    source: str
    fingerprint: str
    n_samples: int
    n_errors: int | None = None
    modality: str | None = None
    class_counts: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class DataEntry:
    """One data set behind the evaluation: an eval set, or data profiled in the same run."""

    role: str  # "test set", "golden set", "data profiled in run 2"
    source: str
    fingerprint: str | None
    samples: int | None
    snapshot: SnapshotInfo | Missing
    checks: RunRef | Missing  # the data run whose findings are on the card
    counts: dict[str, int] = field(default_factory=dict)  # status -> results of that run


@dataclass(frozen=True)
class Deployment:
    run: RunRef
    matched_by: str  # how the run was found: "bundle fingerprint", ...
    bundle: str | None
    fingerprint: str | None
    weights: str | None
    training_run: Any = None
    refused: str | None = None
    files: int | None = None
    url: str | None = None
    bundle_check: Measure | Missing = field(default_factory=lambda: Missing("no deploy.bundle"))
    parity: list[ParityRow] | Missing = field(default_factory=list)
    batch_sweep: Measure | Missing = field(default_factory=lambda: Missing("no batch sweep"))
    preprocessing: Measure | Missing = field(default_factory=lambda: Missing("no preprocessing"))
    unexpected_inputs: list[Measure] | Missing = field(default_factory=list)
    smoke: Measure | Missing = field(default_factory=lambda: Missing("no smoke test"))
    note: str = ""


@dataclass(frozen=True)
class Issue:
    """A failed, warned, inconclusive or crashed result of a run the card draws on."""

    run_id: int
    area: str  # "evaluation", "deployment", "data: test set", ...
    check: str  # the result's key
    status: str
    summary: str


@dataclass(frozen=True)
class Provenance:
    store_url: str
    runs: list[RunRef]
    fingerprints: list[tuple[str, str]]  # (what, fingerprint)


@dataclass(frozen=True)
class ModelCard:
    """Every section of the card, filled from stored results only."""

    title: str
    model: ModelInfo
    evaluation: RunRef
    test_set: str | None  # the set the headline metrics are measured on
    data: list[DataEntry] | Missing
    headline: list[Measure | Missing]
    per_class: list[ClassRow] | Missing
    slices: list[Measure] | Missing
    calibration: CalibrationInfo | Missing
    evaluation_results: list[Measure]  # every stored eval.* result, as stored
    deployment: Deployment | Missing
    guardrails: list[Measure | Missing]
    known_issues: list[Issue]
    provenance: Provenance
    notes: list[str] = field(default_factory=list)
    dlqa_version: str = __version__
