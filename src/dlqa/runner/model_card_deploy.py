"""The deployment run of an evaluated model, for its model card.

The latest run whose ``deploy`` report part names the bundle the eval ran through
(``meta.bundle.fingerprint``, the manifest's fingerprint); failing that, one of a bundle with
the same weights fingerprint (``meta.bundle.weights``); a ``dlqa check`` run that holds both
eval and deploy results is its own deployment run. Its parity matrix, batch sweep,
preprocessing parity, unexpected inputs and bundle check are read from its results; the smoke
test from the latest run of that bundle that has one.
"""

from __future__ import annotations

import shlex
from typing import Any

from dlqa.core.results import CheckResult
from dlqa.report.model_card import Deployment, Measure, Missing, ModelInfo
from dlqa.runner.model_card_context import CardContext
from dlqa.runner.model_card_sections import as_int, as_text, first_result, measure, parity_row
from dlqa.store import RUN_FINISHED, RunRecord

__all__ = ["DEPLOY_KINDS", "deployment_section"]

# Runs that may hold deploy.* results (a `dlqa check` with [deploy] among them).
DEPLOY_KINDS = ("deploy.check", "check", "deploy.smoke")


def deployment_section(ctx: CardContext, run: RunRecord, model: ModelInfo) -> Deployment | Missing:
    found = find_deployment(ctx, run, model)
    if isinstance(found, Missing):
        return found
    deploy_run, matched_by = found
    ref = ctx.use(deploy_run, "deployment")
    ctx.collect_issues(deploy_run, "deployment", "deploy.")
    part = deploy_run.report.get("deploy") or {}
    results = [r for r in ctx.results(deploy_run.id) if r.check_id.startswith("deploy.")]
    redo = "dlqa deploy check"
    note = ""
    if deploy_run.status != RUN_FINISHED:
        note = (
            f"run {deploy_run.id} did not finish (status {deploy_run.status}): its results "
            "are those stored before it stopped"
        )
    parity = [parity_row(r) for r in results if r.check_id == "deploy.parity"]
    unexpected = [
        measure(r, r.subject or "-", deploy_run.id)
        for r in results
        if r.check_id == "deploy.unexpected_inputs"
    ]
    return Deployment(
        run=ref,
        matched_by=matched_by,
        bundle=as_text(part.get("bundle")),
        fingerprint=as_text(part.get("fingerprint")),
        weights=as_text(part.get("weights")),
        training_run=part.get("training_run"),
        refused=as_text(part.get("refused")),
        files=as_int(part.get("files")),
        url=as_text(part.get("url")),
        bundle_check=_one(deploy_run, results, "deploy.bundle", redo),
        parity=parity or Missing(f"no deploy.parity result in run {deploy_run.id}", redo),
        batch_sweep=_one(deploy_run, results, "deploy.batch_sweep", redo),
        preprocessing=_one(deploy_run, results, "deploy.preprocessing", redo),
        unexpected_inputs=unexpected
        or Missing(f"no deploy.unexpected_inputs result in run {deploy_run.id}", redo),
        smoke=_smoke(ctx, deploy_run, results, part),
        note=note,
    )


def _one(run: RunRecord, results: list[CheckResult], check_id: str, redo: str) -> Measure | Missing:
    result = first_result(results, check_id)
    if result is None:
        return Missing(f"no {check_id} result in run {run.id}", redo)
    return measure(result, result.key, run.id)


def find_deployment(
    ctx: CardContext, run: RunRecord, model: ModelInfo
) -> tuple[RunRecord, str] | Missing:
    if any(r.check_id.startswith("deploy.") for r in ctx.results(run.id)):
        return run, "the same run (it holds the deploy results)"
    if model.bundle_fingerprint is None:
        weights = f" (weights {model.weights})" if model.weights else ""
        return Missing(
            f"run {run.id} evaluated the configured model{weights}, not an exported bundle, "
            "and stores no bundle or weights fingerprint to find its deployment run by",
            "dlqa model eval BUNDLE",
            "then write the card of that run; dlqa deploy check checks the bundle",
        )
    deploy_runs, full = _deploy_runs(ctx)
    by_bundle = [
        r for r in deploy_runs if _deploy_part(r).get("fingerprint") == model.bundle_fingerprint
    ]
    chosen = _preferred(by_bundle, full)
    if chosen is not None:
        return chosen, f"bundle fingerprint {model.bundle_fingerprint}"
    if model.weights_fingerprint is not None:
        by_weights = [
            r for r in deploy_runs if _deploy_part(r).get("weights") == model.weights_fingerprint
        ]
        chosen = _preferred(by_weights, full)
        if chosen is not None:
            return chosen, (
                f"weights fingerprint {model.weights_fingerprint} (no run checked bundle "
                f"{model.bundle_fingerprint} itself; this one checked a bundle of the same "
                "weights)"
            )
    path = f" {shlex.quote(model.bundle_path)}" if model.bundle_path else ""
    return Missing(
        f"no deployment run for bundle {model.bundle_fingerprint}", f"dlqa deploy check{path}"
    )


def _preferred(runs: list[RunRecord], full: set[int]) -> RunRecord | None:
    """The newest finished full check of ``runs`` (``full``: the ids of those that ran more
    than deploy.bundle), else the newest full check of any status, else the newest bare
    export (finished first)."""
    return _latest_finished([r for r in runs if r.id in full]) or _latest_finished(
        [r for r in runs if r.id not in full]
    )


def _deploy_runs(ctx: CardContext) -> tuple[list[RunRecord], set[int]]:
    """Runs that checked a bundle (they stored a ``deploy`` part and deploy results other
    than a smoke test), newest first; those that ran more than the bundle check (a
    `dlqa deploy check`, not a bare `dlqa deploy export`) before the others. With the ids of
    those full checks."""
    full, bare = [], []
    for kind in DEPLOY_KINDS:
        for record in ctx.store.list_runs(kind=kind):
            if not _deploy_part(record):
                continue
            ctx.remember(record)
            ids = {r.check_id for r in ctx.results(record.id) if r.check_id.startswith("deploy.")}
            if ids - {"deploy.smoke", "deploy.bundle"}:
                full.append(record)
            elif "deploy.bundle" in ids:
                bare.append(record)
    ordered = [
        *sorted(full, key=lambda r: r.id, reverse=True),
        *sorted(bare, key=lambda r: r.id, reverse=True),
    ]
    return ordered, {r.id for r in full}


def _smoke(
    ctx: CardContext, deploy_run: RunRecord, results: list[CheckResult], part: dict[str, Any]
) -> Measure | Missing:
    own = first_result(results, "deploy.smoke")
    if own is not None:
        return measure(own, own.key, deploy_run.id)
    fingerprint = part.get("fingerprint")
    command = "dlqa deploy smoke URL --bundle BUNDLE"
    if fingerprint:
        for record in ctx.store.list_runs(kind="deploy.smoke"):
            if _deploy_part(record).get("fingerprint") != fingerprint:
                continue
            result = first_result(ctx.results(record.id), "deploy.smoke")
            if result is not None:
                ctx.use(record, "smoke test")
                ctx.collect_issues(record, "deployment", "deploy.")
                return measure(result, result.key, record.id)
    return Missing(
        f"no smoke test of bundle {fingerprint or '(unknown fingerprint)'}",
        command,
        "against the bundle served with dlqa serve",
    )


def _deploy_part(run: RunRecord) -> dict[str, Any]:
    part = run.report.get("deploy")
    return part if isinstance(part, dict) else {}


def _latest_finished(runs: list[RunRecord]) -> RunRecord | None:
    """The first finished run of ``runs`` (in order of preference); the first of any status
    when none finished."""
    for record in runs:
        if record.status == RUN_FINISHED:
            return record
    return runs[0] if runs else None
