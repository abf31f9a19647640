"""Report assembly, in one place: a stored run becomes the Report every view renders.

Views never read source files: results, the run record and the report parts a stage stored
(title, meta, class counts, histogram bins, thumbnail and audio preview artifacts) are all in
the store, so a past run re-renders the same after its data is gone (`dlqa report RUN_ID`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dlqa.core.gates import exit_code_of
from dlqa.report.html import write_html
from dlqa.report.json_report import write_json
from dlqa.report.junit import write_junit
from dlqa.report.model import Report
from dlqa.store import Store

WRITERS = {"json": write_json, "html": write_html, "junit": write_junit}
SUFFIXES = {"json": "report.json", "html": "report.html", "junit": "junit.xml"}


def report_provenance(provenance: dict[str, Any]) -> dict[str, Any]:
    """The provenance a report shows: the bulky parts (the diff of a dirty tree, the list of
    installed distributions) stand as their hashes; the store keeps them whole."""
    shown = dict(provenance)
    git = shown.get("git")
    if isinstance(git, dict) and git.get("diff"):
        shown["git"] = {k: v for k, v in git.items() if k != "diff"}
    environment = shown.get("environment")
    if isinstance(environment, dict) and "distributions" in environment:
        shown["environment"] = {k: v for k, v in environment.items() if k != "distributions"}
    return shown


def load_report(store: Store, run_id: int) -> Report:
    """The report of a stored run, finished or not."""
    run = store.get_run(run_id)
    results = store.results_for_run(run_id)
    parts = run.report
    allow_inconclusive = bool(parts.get("allow_inconclusive", False))
    exit_code = run.exit_code
    if exit_code is None:  # still running, or killed without a chance to finish
        exit_code = exit_code_of(results, allow_inconclusive=allow_inconclusive)
    meta = {
        **(parts.get("meta") or {}),
        "run_id": run.id,
        "command": run.command,
        "provenance": report_provenance(run.provenance),
        "dlqa_version": (run.provenance.get("versions") or {}).get("dlqa"),
    }
    return Report(
        title=parts.get("title") or f"dlqa {run.kind}",
        kind=run.kind,
        created_at=run.created_at.isoformat(timespec="seconds"),
        results=results,
        exit_code=int(exit_code),
        status=run.status,
        meta=meta,
        class_counts=parts.get("class_counts") or {},
        histograms=parts.get("histograms") or {},
        thumbnails=_artifacts(store, parts.get("thumbnails")),
        media=_artifacts(store, parts.get("media")),
        allow_inconclusive=allow_inconclusive,
    )


def _artifacts(store: Store, digests: Any) -> dict[str, bytes]:
    """{sample_id: bytes} of a {sample_id: digest} report part; an artifact that is gone (a
    pruned store) leaves its sample without a picture or a player, not the report broken."""
    found = {}
    for sample_id, digest in (digests or {}).items():
        if store.artifacts.exists(digest):
            found[sample_id] = store.artifacts.path(digest).read_bytes()
    return found


def write_reports(
    report: Report,
    *,
    out_dir: Path | None = None,
    formats: tuple[str, ...] | list[str] = (),
    explicit: dict[str, Path | None] | None = None,
) -> dict[str, Path]:
    """Write each format in ``formats`` to ``out_dir`` and each explicit path given."""
    targets: dict[str, Path] = {}
    if out_dir is not None:
        targets.update({fmt: out_dir / SUFFIXES[fmt] for fmt in formats})
    targets.update({fmt: path for fmt, path in (explicit or {}).items() if path is not None})
    return {fmt: WRITERS[fmt](report, path) for fmt, path in targets.items()}
