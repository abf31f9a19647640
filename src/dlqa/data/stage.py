"""The data stage: its ``[data]`` section, how it builds the profile its checks read, and
what it stores for the report (class counts, histogram bins, thumbnails of the evidence).

Registered through the ``dlqa.stages`` entry point ``data``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from dlqa.core.errors import UsageError
from dlqa.core.results import CheckResult
from dlqa.core.stages import StageRun, StageSpec, register_stage
from dlqa.data.checks.balance import class_counts
from dlqa.data.context import DataProfile
from dlqa.data.modalities import modality_of
from dlqa.data.snapshots import dataset_fingerprint, snapshot_summary
from dlqa.data.stage_inputs import (
    attach_label_model,
    attach_reviews,
    open_configured_path,
    profile_into_store,
    reference_profile,
)
from dlqa.report.audio_media import (
    AUDIO_PREVIEW_MEDIA_TYPE,
    WAVEFORM_MEDIA_TYPE,
    make_audio_preview,
    make_waveform_thumbnail,
)
from dlqa.report.media_types import audio_media_type
from dlqa.report.plots import histogram_bins
from dlqa.report.thumbnails import array_thumbnail, make_thumbnail
from dlqa.sources.base import Sample, Source

THUMBNAIL_MEDIA_TYPE = "image/jpeg"
THUMBNAILS_PER_EVIDENCE = 24


class DataConfig(BaseModel):
    """``[data]``: the dataset to profile."""

    model_config = ConfigDict(extra="forbid")

    source: str | None = Field(None, description="folder tree or manifest, relative to dlqa.toml")
    path_column: str = "path"
    label_column: str = "label"
    split_column: str = "split"
    id_column: str | None = None
    text_column: str | None = Field(
        None, description="manifest column holding each sample's text (a text dataset)"
    )
    modality: Literal["image", "audio", "text"] | None = Field(
        None, description="what the samples are; default: detected from the files"
    )
    reference: str | None = Field(
        None,
        description="reference dataset for the drift checks: a source (folder tree or "
        "manifest, relative to dlqa.toml) or a snapshot ('12', 'latest~1')",
    )
    label_errors: bool = Field(
        False,
        description="find likely label errors with dlqa's own k-fold model (slower: reads "
        "every sample again for features)",
    )
    pred_probs: str | None = Field(
        None,
        description="out-of-fold predicted probabilities for data.label_errors (CSV or "
        "Parquet: an id column and one column per class)",
    )
    embeddings: str | None = Field(
        None,
        description="per-sample embeddings for data.label_errors (CSV or Parquet: an id "
        "column and one numeric column per dimension)",
    )


def configured_source(section: DataConfig, base_dir: Path) -> Source | None:
    """The data source that ``[data]`` names (None when it names none)."""
    if not section.source:
        return None
    path = Path(section.source).expanduser()
    return open_configured_path(section, path if path.is_absolute() else base_dir / path)


def build_data_context(run: StageRun) -> DataProfile:
    """Profile the source (given by the command, else ``[data] source``), store the per-sample
    table as an artifact and a snapshot of it, and leave the report parts on ``run``. A
    profile handed over as ``inputs["profile"]`` (a stored snapshot) is used as it is. The
    profile then carries what other checks read beside it: the drift reference, the label
    model, the stored review verdicts."""
    given: DataProfile | None = run.inputs.get("profile")
    source: Source | None = None
    if given is not None:
        profile = given
        meta = {"source": profile.source, "source_kind": "snapshot"}
        meta.update(run.inputs.get("snapshot_meta", {}))
        worker_deaths: list[dict[str, Any]] = []
        skipped: list[dict[str, str]] = []
    else:
        source = run.inputs.get("source") or configured_source(run.section, run.config.base_dir)
        if source is None:
            raise UsageError("no data source to profile", hint='set [data] source = "..."')
        profile, digest, info = profile_into_store(source, run)
        fingerprint = dataset_fingerprint(profile)
        skipped = list(getattr(source, "skipped", []))
        worker_deaths = info.worker_deaths
        snapshot_id = run.store.add_snapshot(
            run.run_id, source.root, fingerprint, profile.n, digest, snapshot_summary(profile)
        )
        meta = {
            "source": source.root,
            "source_kind": source.kind,
            "fingerprint": fingerprint,
            "snapshot_id": snapshot_id,
            "table_artifact": digest,
        }
    profile.reference = reference_profile(run, profile)
    attach_label_model(profile, source, run)
    attach_reviews(profile, run)
    run.report_parts.update(
        meta={
            **meta,
            "modality": profile.modality,
            "n_samples": profile.n,
            "workers": run.workers or os.cpu_count(),
            # Folder entries not read as samples (directory symlinks out of the root, cycles,
            # files of another modality).
            "skipped": skipped,
            # Samples on which a worker process died (a decoder segfault, the OOM killer).
            "worker_deaths": worker_deaths,
            "notes": _notes(skipped, worker_deaths),
            **({"reference": profile.reference.source} if profile.reference else {}),
        },
        class_counts=class_counts(profile),
        histograms=_histograms(profile),
    )
    return profile


def store_evidence_thumbnails(
    profile: DataProfile, results: list[CheckResult], run: StageRun
) -> None:
    """What views show of the samples in evidence (the top of each list), stored as artifacts
    so that a report re-rendered later needs no source files: a thumbnail of each image; a
    waveform and a short playable preview of each audio clip (texts carry their snippets in
    the evidence items themselves). Files are read again; in-memory samples come from their
    source by position."""
    if profile.modality == "text":
        return
    wanted = sorted(evidence_sample_ids(results))
    if not wanted:
        return
    rows = profile.rows_of(wanted)
    # Only samples that decoded: a FIFO or a device must never be opened again here.
    known = rows >= 0
    ids = [sample_id for sample_id, ok in zip(wanted, known, strict=True) if ok]
    rows = rows[known]
    decoded = profile.decoded[rows]
    paths = profile.take_values("path", rows)
    positions = profile.take_values("index", rows)
    source = run.inputs.get("source")
    in_memory = source if callable(getattr(source, "sample_at", None)) else None
    contents = {
        sample_id: _EvidenceContent(path, None if path else in_memory.sample_at(position))
        for sample_id, path, position, ok in zip(ids, paths, positions, decoded, strict=True)
        if ok and (path or in_memory is not None)
    }
    _store_media(run, profile.modality, contents)


def store_media_of_files(run: StageRun, modality: str, files: dict[str, str]) -> None:
    """Thumbnails (and, for audio, waveforms and previews) of these files, by sample id, into
    the run's report parts, as the data stage stores those of its evidence."""
    if modality != "text":
        _store_media(run, modality, {i: _EvidenceContent(p, None) for i, p in files.items()})


def _store_media(run: StageRun, modality: str, contents: dict[str, _EvidenceContent]) -> None:
    # One run may hold several stages' evidence (`dlqa check`: data, then eval): the report
    # parts are merged key by key, so start from what earlier stages stored.
    stored = run.store.get_run(run.run_id).report
    thumbnails: dict[str, str] = {
        **(stored.get("thumbnails") or {}),
        **(run.report_parts.get("thumbnails") or {}),
    }
    media: dict[str, str] = {**(stored.get("media") or {}), **(run.report_parts.get("media") or {})}
    for sample_id, content in contents.items():
        try:  # what does not decode shows as a text tile; its check says why
            if modality == "audio":
                thumbnails[sample_id] = content.store_waveform(run)
                media[sample_id] = content.store_preview(run)
            else:
                thumbnails[sample_id] = content.store_thumbnail(run)
        except Exception:
            continue
    run.report_parts["thumbnails"] = thumbnails
    if media:
        run.report_parts["media"] = media


class _EvidenceContent:
    """One evidence sample's file, or its in-memory sample, turned into stored media."""

    def __init__(self, path: str | None, sample: Sample | None) -> None:
        self.path, self.sample = path, sample

    def _audio(self) -> dict[str, Any]:
        if self.path:
            return {"path": self.path}
        return {"waveform": self.sample.array, "sample_rate": self.sample.sample_rate}

    def store_waveform(self, run: StageRun) -> str:
        png = make_waveform_thumbnail(**self._audio())
        return run.store.artifacts.put_bytes(png, WAVEFORM_MEDIA_TYPE)

    def store_preview(self, run: StageRun) -> str:
        preview = make_audio_preview(**self._audio())  # Ogg Vorbis, or WAV where that failed
        kind = audio_media_type(preview) or AUDIO_PREVIEW_MEDIA_TYPE
        return run.store.artifacts.put_bytes(preview, kind)

    def store_thumbnail(self, run: StageRun) -> str:
        jpeg = make_thumbnail(self.path) if self.path else array_thumbnail(self.sample.array)
        return run.store.artifacts.put_bytes(jpeg, THUMBNAIL_MEDIA_TYPE)


def _notes(skipped: list[dict[str, str]], deaths: list[dict[str, Any]]) -> list[str]:
    """What every view says about the run beside the results: nothing may go unseen."""
    notes = []
    if deaths:
        first = deaths[0]
        where = first.get("sample_id") or "a chunk of samples"
        notes.append(
            f"a worker process died {len(deaths)} time(s) while reading samples (first: "
            f"{where}, {first.get('reason')}); the profile went on without losing other "
            "samples, and a sample that kills its worker is reported by data.unreadable"
        )
    if skipped:
        first = skipped[0]
        notes.append(
            f"{len(skipped)} folder entr{'y was' if len(skipped) == 1 else 'ies were'} not "
            f"read as samples (first: {first['path']}: {first['reason']})"
        )
    return notes


def _histograms(profile: DataProfile) -> dict[str, Any]:
    histograms = {}
    for name in modality_of(profile).histogram_properties:
        bins = histogram_bins(profile.numbers(name))
        if bins is not None:
            histograms[name] = bins
    return histograms


def evidence_sample_ids(results: list[CheckResult]) -> set[str]:
    wanted: set[str] = set()
    for result in results:
        for evidence in result.evidence:
            for item in evidence.items[:THUMBNAILS_PER_EVIDENCE]:
                if isinstance(item, dict) and "id" in item:
                    wanted.add(str(item["id"]))
                elif isinstance(item, dict) and "ids" in item:
                    wanted.update(str(i) for i in item["ids"][:THUMBNAILS_PER_EVIDENCE])
    return wanted


STAGE = register_stage(
    StageSpec(
        name="data",
        title="Data",
        section=DataConfig,
        build_context=build_data_context,
        is_configured=lambda section: bool(section.source),
        after_checks=store_evidence_thumbnails,
        modality_of=lambda profile: profile.modality,
        inputs_of=lambda profile: profile.inputs,
        input_hints={
            "reference": "a reference dataset (dlqa data drift REFERENCE CURRENT, or "
            '[data] reference = "...")',
            "reviews": "spot-check verdicts (dlqa data review sample, then dlqa data review "
            "import FILE)",
        },
        order=10,
    )
)

__all__ = ["STAGE", "DataConfig", "build_data_context", "configured_source"]
