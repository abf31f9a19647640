"""What every view renders: the results of one run and the context to show them with."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from dlqa.core.results import CheckResult, Status


@dataclass
class Report:
    title: str
    kind: str  # "data.profile", "check", "data.diff"
    created_at: str  # ISO 8601, UTC
    results: list[CheckResult]
    exit_code: int
    # source, n_samples, fingerprint, snapshot_id, run_id, dlqa_version, config, workers, ...
    meta: dict[str, Any] = field(default_factory=dict)
    # split -> label -> count; the split is "all" when the source has no splits
    class_counts: dict[str, dict[str, int]] = field(default_factory=dict)
    # property name -> finite values, for histograms
    properties: dict[str, list[float]] = field(default_factory=dict)
    # sample_id -> absolute file path, for thumbnails of evidence samples
    sample_paths: dict[str, str] = field(default_factory=dict)

    def counts(self) -> dict[str, int]:
        counts = {s.value: 0 for s in Status}
        for r in self.results:
            counts[r.status.value] += 1
        return counts
