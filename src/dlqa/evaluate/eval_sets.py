"""The eval sets of ``[eval]`` (``test``, ``golden``, ``regression``): read through
``dlqa.sources``, profiled and fingerprinted as data snapshots are, and joined with the
model's outputs into the arrays :func:`dlqa.evaluate.api.eval_context` checks.

Every set is profiled by the data stage's own probes, so that its stored profile gives the
slices (``brightness``, ``duration``, ``meta.camera``) joined by sample id, its content-hash
fingerprint (stored with the run, so that a later comparison can refuse a different set) and
the thumbnails of the evidence.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from dlqa.core.errors import UsageError
from dlqa.core.stages import StageRun
from dlqa.data.context import DataProfile
from dlqa.data.snapshots import dataset_fingerprint, snapshot_summary
from dlqa.data.stage_inputs import profile_into_store
from dlqa.sources.base import Sample, Source
from dlqa.sources.open import open_source

SET_NAMES = ("test", "golden", "regression")
PREVIOUS_RUNS_SEARCHED = 200


@dataclass
class EvalSet:
    name: str
    source: Source
    samples: list[Sample]
    profile: DataProfile
    fingerprint: str
    snapshot_id: int

    def sample_id(self, sample: Sample) -> str:
        """Ids of the case sets carry their set's name: the same file may be in two sets."""
        return sample.sample_id if self.name == "test" else f"{self.name}:{sample.sample_id}"


@dataclass
class JoinedSets:
    """Rows of every set that the model predicted, in set order."""

    labels: list[int] = field(default_factory=list)
    ids: list[str] = field(default_factory=list)
    sets: dict[str, list[int]] = field(default_factory=dict)
    paths: dict[str, str] = field(default_factory=dict)
    notes: dict[str, str] = field(default_factory=dict)
    # (set, position in the set) of each row, for joining profile columns.
    origin: list[tuple[str, int]] = field(default_factory=list)


def open_eval_source(section: Any, path: Path, name: str) -> Source:
    label_column = section.label_column
    if name == "regression":
        label_column = section.expected_column
    try:
        return open_source(
            path,
            path_column=section.path_column,
            label_column=label_column,
            split_column=None,
            id_column=section.id_column,
            text_column=section.text_column,
            modality=section.modality,
        )
    except UsageError as exc:  # the reader's hint names [data]; these columns are [eval]'s
        hint = (
            "every regression case needs an expected label: set [eval] expected_column to "
            "the column that holds it (and note_column to its note)"
            if name == "regression"
            else "set [eval] label_column, path_column and id_column to this manifest's columns"
        )
        raise UsageError(f"[eval] {name}: {exc.message}", hint=hint) from None


def read_eval_set(run: StageRun, name: str, path: Path) -> EvalSet:
    """One set: opened, profiled into the store as a snapshot, every sample labelled."""
    source = open_eval_source(run.section, path, name)
    samples = list(source)
    if not samples:
        raise UsageError(f"[eval] {name} = {str(path)!r}: the set has no samples")
    unlabelled = [s.sample_id for s in samples if not s.label]
    if unlabelled:
        column = run.section.expected_column if name == "regression" else run.section.label_column
        what = "an expected label" if name == "regression" else "a label"
        raise UsageError(
            f"[eval] {name}: {len(unlabelled)} sample(s) have no {what} "
            f"(first: {', '.join(unlabelled[:3])})",
            hint=f"every {name} case needs {what} (column {column!r}, or class folders)",
        )
    profile, digest, _ = profile_into_store(source, run, f"Profiling the {name} set")
    fingerprint = dataset_fingerprint(profile)
    snapshot_id = run.store.add_snapshot(
        run.run_id, source.root, fingerprint, profile.n, digest, snapshot_summary(profile)
    )
    return EvalSet(name, source, samples, profile, fingerprint, snapshot_id)


def class_index(names: tuple[str, ...], sets: list[EvalSet]) -> dict[str, int]:
    """Label -> class index; a label the model does not know is a UsageError naming it."""
    index = {name: i for i, name in enumerate(names)}
    for eval_set in sets:
        unknown = sorted({s.label for s in eval_set.samples if s.label not in index})
        if unknown:
            raise UsageError(
                f"the {eval_set.name} set has labels the model does not know: {unknown[:10]}",
                hint=f"the model's classes ([eval] class_names): {list(names)[:20]}",
            )
    return index


def join_sets(
    sets: list[EvalSet], failures_of: dict[str, dict[int, str]], index: dict[str, int],
    note_column: str,
) -> tuple[JoinedSets, list[dict[str, Any]]]:  # fmt: skip
    """The rows of predicted samples, and a failure item for each sample that was not."""
    joined = JoinedSets()
    failures: list[dict[str, Any]] = []
    for eval_set in sets:
        rows = joined.sets.setdefault(eval_set.name, [])
        for position, sample in enumerate(eval_set.samples):
            sample_id = eval_set.sample_id(sample)
            reason = failures_of[eval_set.name].get(position)
            if reason is not None:
                failures.append({"id": sample_id, "set": eval_set.name, "reason": reason})
                continue
            rows.append(len(joined.ids))
            joined.ids.append(sample_id)
            joined.labels.append(index[str(sample.label)])
            joined.origin.append((eval_set.name, position))
            if sample.path:
                joined.paths[sample_id] = sample.path
            note = sample.metadata.get(note_column)
            if note not in (None, ""):
                joined.notes[sample_id] = str(note)
    return joined, failures


def slice_columns(
    names: list[str], sets: list[EvalSet], joined: JoinedSets
) -> dict[str, np.ndarray]:
    """Each slice column's value per row, from the stored profile of the row's set (a
    metadata column ``meta.X`` or a measured property such as ``brightness``)."""
    by_name = {s.name: s for s in sets}
    test_profile = by_name["test"].profile
    columns: dict[str, np.ndarray] = {}
    for name in names:
        if not test_profile.has_column(name):
            raise UsageError(
                f"[eval] slices: the test set's profile has no column {name!r}",
                hint=f"columns to slice by: {', '.join(sliceable_columns(test_profile))}",
            )
        per_set = {
            s.name: s.profile.take_values(name, np.arange(s.profile.n))
            for s in sets
            if s.profile.has_column(name)
        }
        values = [
            per_set[set_name][position] if set_name in per_set else None
            for set_name, position in joined.origin
        ]
        columns[name] = np.asarray(values, dtype=object)
    return columns


_NOT_SLICES = {"sample_id", "index", "path", "label", "split", "error", "error_detail",
               "sha256", "content_hash", "ext_format", "format_mismatch"}  # fmt: skip


def sliceable_columns(profile: DataProfile) -> list[str]:
    return [name for name in profile.schema.names if name not in _NOT_SLICES]


def previous_outcomes(run: StageRun, set_name: str, fingerprint: str) -> tuple[int | None, Any]:
    """The per-case outcomes of the newest earlier finished run that evaluated the same case
    set (same fingerprint, from the run's stored ``eval`` report part): (run id, {sample id:
    right}); (None, None) when there is none. A changed set is never compared case by case."""
    check_id = "eval.golden" if set_name == "golden" else "eval.regression_cases"
    for record in run.store.list_runs(limit=PREVIOUS_RUNS_SEARCHED):
        stored = ((record.report.get("eval") or {}).get("sets") or {}).get(set_name) or {}
        if record.id == run.run_id or stored.get("fingerprint") != fingerprint:
            continue
        for result in run.store.results_for_run(record.id):
            if result.check_id == check_id and "outcomes" in result.details:
                return record.id, dict(result.details["outcomes"])
    return None, None
