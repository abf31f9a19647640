"""What every view renders: the results of one stored run and the context to show them with.

Everything here comes from the store (results, the run record, the report parts a stage
stored with the run, thumbnails and audio previews as artifacts), so that `dlqa report RUN_ID`
re-renders a past run after its source data is gone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from dlqa.core.results import CheckResult
from dlqa.core.suite import count_statuses

# How a run ended; anything but "finished" marks the report incomplete.
RUN_STATUSES = ("running", "finished", "failed", "interrupted")


@dataclass
class Report:
    title: str
    kind: str  # "data.profile", "check", "train.check", ...
    created_at: str  # ISO 8601, UTC
    results: list[CheckResult]
    exit_code: int
    status: str = "finished"
    # run_id, source, n_samples, fingerprint, snapshot_id, dlqa_version, provenance, ...
    meta: dict[str, Any] = field(default_factory=dict)
    # split -> label -> count; the split is "all" when the source has no splits
    class_counts: dict[str, dict[str, int]] = field(default_factory=dict)
    # property name -> {"edges": [k + 1 floats], "counts": [k ints], "median": float, "n": int}
    histograms: dict[str, dict[str, Any]] = field(default_factory=dict)
    # sample_id -> thumbnail image bytes (JPEG; a PNG waveform for audio), from stored artifacts
    thumbnails: dict[str, bytes] = field(default_factory=dict)
    # sample_id -> audio preview bytes (Ogg Vorbis, or WAV), from stored artifacts
    media: dict[str, bytes] = field(default_factory=dict)
    # --allow-inconclusive was given: inconclusive results did not fail the run
    allow_inconclusive: bool = False

    @property
    def complete(self) -> bool:
        return self.status == "finished"

    def counts(self) -> dict[str, int]:
        return count_statuses(self.results)
