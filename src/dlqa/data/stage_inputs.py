"""What the data stage reads beside the source it profiles: the reference dataset of the drift
checks, the inputs of ``data.label_errors`` and the stored spot-check verdicts.

Each comes from the command (``StageRun.inputs``) or else from ``[data]``; paths in dlqa.toml
are relative to it, paths on the command line to the working directory.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from dlqa.core.errors import UsageError
from dlqa.core.registry import CheckSpec, all_specs
from dlqa.core.stages import StageRun
from dlqa.data.context import DataProfile
from dlqa.data.profile import ProfileInfo, profile_source
from dlqa.execute import get_executor
from dlqa.sources.base import Source
from dlqa.sources.open import open_source

PARQUET_MEDIA_TYPE = "application/vnd.apache.parquet"
LABEL_ERRORS_CHECK = "data.label_errors"

# A reference named in dlqa.toml or on the command line: a source, a snapshot, or a profile.
ReferenceSpec = str | Path | Source | DataProfile


def profile_into_store(
    source: Source, run: StageRun, description: str = "Profiling"
) -> tuple[DataProfile, str, ProfileInfo]:
    """Probe every sample of ``source`` into a Parquet table stored as an artifact: the
    profile reading it, the artifact's digest, and what the probing met (worker deaths)."""
    store = run.store
    staging = store.artifacts.root.parent / "tmp"
    staging.mkdir(parents=True, exist_ok=True)
    advance = run.progress(len(source), description)
    with tempfile.TemporaryDirectory(dir=staging) as tmp:
        table = Path(tmp) / "profile.parquet"
        execute = run.config.execute
        with get_executor(
            run.workers,
            backend=execute.backend,
            address=execute.address,
            worker_root=execute.worker_root,
        ) as executor:
            info = profile_source(source, table, executor=executor, on_progress=advance)
        digest = store.artifacts.put_file(table, PARQUET_MEDIA_TYPE)
    profile = DataProfile.from_parquet(store.artifacts.path(digest), source=source.root)
    return profile, digest, info


def open_configured_path(section: Any, path: Path, modality: str | None = None) -> Source:
    """A source at ``path`` read with ``[data]``'s column settings."""
    return open_source(
        path,
        path_column=section.path_column,
        label_column=section.label_column,
        split_column=section.split_column,
        id_column=section.id_column,
        text_column=section.text_column,
        modality=modality or section.modality,
    )


def reference_profile(run: StageRun, current: DataProfile) -> DataProfile | None:
    """The reference dataset to compare ``current`` with (None when the run names none): a
    profile handed over as it is, a source profiled now (stored as an artifact, not as a
    snapshot: it is not the dataset this run is about), or a stored snapshot."""
    if not _will_run_any(run, lambda check: "reference" in check.needs):
        return None  # no drift check runs: profiling a reference would be wasted
    spec: ReferenceSpec | None = run.inputs.get("reference")
    from_config = spec is None and bool(run.section.reference)
    if from_config:
        spec = run.section.reference
    if spec is None:
        return None
    if isinstance(spec, DataProfile):
        return spec
    if not isinstance(spec, (str, Path)):
        profile, _, _ = profile_into_store(spec, run, "Profiling reference")
        return profile
    return resolve_dataset_ref(
        run, spec, base_dir=run.config.base_dir if from_config else None, modality=None
    ) or _unknown_reference(spec)


def resolve_dataset_ref(
    run: StageRun, ref: str | Path, *, base_dir: Path | None, modality: str | None
) -> DataProfile | None:
    """``ref`` as a dataset: an existing folder or manifest (profiled now), else a snapshot
    reference ('12', 'latest', 'latest~1'); None when it is neither."""
    path = Path(ref).expanduser()
    if base_dir is not None and not path.is_absolute():
        path = base_dir / path
    if path.exists():
        source = open_configured_path(run.section, path, modality)
        profile, _, _ = profile_into_store(source, run, "Profiling reference")
        return profile
    try:
        snapshot = run.store.get_snapshot(str(ref))
    except UsageError:
        return None
    return DataProfile.from_parquet(
        run.store.artifacts.path(snapshot.table_digest), snapshot.source
    )


def _unknown_reference(spec: str | Path) -> DataProfile:
    raise UsageError(
        f"reference {str(spec)!r} is neither a folder or manifest nor a stored snapshot",
        hint="give the path of the reference dataset (relative to dlqa.toml in [data] "
        "reference), or a snapshot id, 'latest' or 'latest~N' (`dlqa data snapshots` "
        "lists them)",
    )


def attach_label_model(profile: DataProfile, source: Source | None, run: StageRun) -> None:
    """Give ``data.label_errors`` its probabilities: a file of the user's, or dlqa's own
    k-fold model on features it extracts (only when asked: it reads every sample again), and
    only when the check runs."""
    if not _will_run_any(run, lambda check: check.check_id == LABEL_ERRORS_CHECK):
        return
    pred_probs = _path_input(run, "pred_probs")
    embeddings = _path_input(run, "embeddings")
    # A stored snapshot has no samples to read features from.
    own_model = source is not None and bool(
        run.inputs.get("label_errors", run.section.label_errors)
    )
    if pred_probs is None and embeddings is None and not own_model:
        return
    # Imported here: scikit-learn's model code loads only for runs that ask for it.
    from dlqa.data.label_inputs import build_label_model

    reads_samples = own_model and pred_probs is None
    profile.label_model = build_label_model(
        profile,
        source,
        pred_probs=pred_probs,
        embeddings=embeddings,
        own_model=own_model,
        on_progress=run.progress(len(source), "Label features") if reads_samples else None,
    )


def attach_reviews(profile: DataProfile, run: StageRun) -> None:
    """Stored spot-check verdicts on this dataset's samples, for the review checks."""
    from dlqa.data.review import load_reviews

    profile.reviews = load_reviews(run.store, profile)


def _will_run_any(run: StageRun, wanted: Callable[[CheckSpec], bool]) -> bool:
    """Whether the run includes a check of the data stage that ``wanted`` picks."""
    return any(
        wanted(check)
        for check in all_specs("data")
        if run.check_ids is None or check.check_id in run.check_ids
    )


def _path_input(run: StageRun, name: str) -> Path | None:
    given = run.inputs.get(name)
    if given is not None:
        return Path(given).expanduser()
    configured = getattr(run.section, name)
    if not configured:
        return None
    path = Path(configured).expanduser()
    return path if path.is_absolute() else run.config.base_dir / path
