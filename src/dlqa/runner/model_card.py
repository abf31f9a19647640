"""``dlqa model card``: a model card filled from stored evidence only.

:func:`build_model_card` reads one evaluation run and follows what it stored to the other
runs that speak about the same model and data:

- the deployment run (:mod:`dlqa.runner.model_card_deploy`): the latest run whose ``deploy``
  report part names the bundle the eval ran through, or failing that a bundle of the same
  weights; a ``dlqa check`` run that holds both eval and deploy results is its own.
- the data (:mod:`dlqa.runner.model_card_data`): each eval set's snapshot, and the latest
  finished data run whose own data snapshot has the eval set's fingerprint.

Every figure is a stored result (read into card pieces by
:mod:`dlqa.runner.model_card_sections`); what the store does not hold is a
:class:`~dlqa.report.model_card.Missing` naming the command that produces it. Rendering lives
in :mod:`dlqa.report.model_card`.
"""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

from dlqa.config import Config
from dlqa.core.errors import UsageError
from dlqa.core.results import CheckResult
from dlqa.report.files import write_text_atomic
from dlqa.report.model_card import (
    DataEntry,
    Deployment,
    Measure,
    Missing,
    ModelCard,
    ModelInfo,
    Provenance,
    render_html,
    render_markdown,
)
from dlqa.runner.model_card_context import CardContext
from dlqa.runner.model_card_data import data_section
from dlqa.runner.model_card_deploy import deployment_section
from dlqa.runner.model_card_sections import (
    as_int,
    as_text,
    calibration,
    first_result,
    measure,
    per_class_rows,
    run_ref,
    slice_rows,
)
from dlqa.store import RUN_FINISHED, RunRecord, Store, open_store, redact_url
from dlqa.store.connect import resolve_database_url

__all__ = ["build_model_card"]


def write_model_card(
    config: Config, eval_run_id: int, *, out: Path | None = None, db: str | None = None
) -> dict[str, Path]:
    """Build the card of ``eval_run_id`` from the configured store (or ``db``) and write
    ``model-card.md`` and ``model-card.html`` to ``out`` (default: the report folder's
    ``model-card-run-N``). Returns format -> file."""
    url = resolve_database_url(db, config.store.url, config.base_dir)
    with open_store(url, project_dir=config.base_dir, artifacts=config.store.artifacts) as store:
        card = build_model_card(store, eval_run_id)
    folder = out or config.resolve(config.report.dir) / f"model-card-run-{eval_run_id}"
    if folder.exists() and not folder.is_dir():
        raise UsageError(f"{folder}: is a file; give a folder for the model card")
    return {
        "markdown": write_text_atomic(folder / "model-card.md", render_markdown(card)),
        "html": write_text_atomic(folder / "model-card.html", render_html(card)),
    }


def build_model_card(store: Store, eval_run_id: int) -> ModelCard:
    """The model card of evaluation run ``eval_run_id`` (a ``dlqa model eval`` run, or a
    ``dlqa check`` run with eval.* results), from the store alone.

    Raises :class:`UsageError` when there is no such run or it holds no eval results.
    """
    return _build(CardContext(store), eval_run_id)


def _build(ctx: CardContext, eval_run_id: int) -> ModelCard:
    run = ctx.run(eval_run_id)  # UsageError when there is no such run
    results = ctx.results(run.id)
    eval_results = [r for r in results if r.check_id.startswith("eval.")]
    if not eval_results:
        raise UsageError(
            f"run {run.id} is not an evaluation run: it holds no eval.* results (a {run.kind} run)",
            hint="give the id of a `dlqa model eval` run, or of a `dlqa check` run that "
            "evaluated a model",
        )
    parts = run.report
    meta = parts.get("meta") or {}
    bundle = meta.get("bundle") if isinstance(meta.get("bundle"), dict) else None
    model = ModelInfo(
        name=as_text(meta.get("model")),
        weights=as_text(meta.get("weights")),
        bundle_path=as_text((bundle or {}).get("path")),
        bundle_fingerprint=as_text((bundle or {}).get("fingerprint")),
        weights_fingerprint=as_text((bundle or {}).get("weights")),
        classes=as_int(meta.get("classes")),
        modality=as_text(meta.get("modality")),
        failed_inputs=as_int(meta.get("failed_inputs")),
    )
    evaluation = ctx.use(run, "evaluation")
    ctx.collect_issues(run, None, None)
    notes = []
    if run.status != RUN_FINISHED:
        notes.append(
            f"Evaluation run {run.id} did not finish (status {run.status}): its results "
            "are those stored before it stopped."
        )
    rerun = _eval_command(model)
    sets = ((parts.get("eval") or {}).get("sets")) or {}
    test_set = "test" if "test" in sets else None

    data = data_section(ctx, run, sets, rerun)
    deployment = deployment_section(ctx, run, model)
    guardrails = _guardrails(ctx, run, eval_results, deployment, rerun)
    fingerprints = _fingerprints(model, deployment, data)
    runs = [run_ref(ctx.run(i), "; ".join(roles)) for i, roles in ctx.used.items()]
    return ModelCard(
        title=f"Model card: {model.name or f'evaluation run {run.id}'}",
        model=model,
        evaluation=evaluation,
        test_set=test_set,
        data=data,
        headline=[
            _headline(run, eval_results, "eval.accuracy", "accuracy", rerun),
            _headline(run, eval_results, "eval.macro_f1", "macro F1", rerun),
        ],
        per_class=per_class_rows(run, eval_results, rerun),
        slices=slice_rows(run, eval_results, rerun),
        calibration=calibration(run, eval_results, rerun),
        evaluation_results=[measure(r, r.key, run.id) for r in eval_results],
        deployment=deployment,
        guardrails=guardrails,
        known_issues=ctx.issues,
        provenance=Provenance(redact_url(ctx.store.url), runs, fingerprints),
        notes=notes,
    )


def _headline(
    run: RunRecord,
    results: list[CheckResult],
    check_id: str,
    label: str,
    rerun: str,
) -> Measure | Missing:
    result = first_result(results, check_id)
    if result is None:
        return Missing(f"no {check_id} result in run {run.id}", rerun)
    return measure(result, label, run.id)


def _guardrails(
    ctx: CardContext,
    run: RunRecord,
    eval_results: list[CheckResult],
    deployment: Deployment | Missing,
    rerun: str,
) -> list[Measure | Missing]:
    items: list[Measure | Missing] = []
    own = [r for r in eval_results if r.check_id == "eval.guardrails"]
    items += [measure(r, r.key, run.id) for r in own] or [
        Missing(
            f"no eval.guardrails result in run {run.id}",
            rerun,
            "set [eval.guardrails] in dlqa.toml first",
        )
    ]
    if isinstance(deployment, Missing):
        items.append(
            Missing("no deploy.guardrails result: no deployment run was found", "dlqa deploy check")
        )
    else:
        deploy_id = deployment.run.id
        found = [r for r in ctx.results(deploy_id) if r.check_id == "deploy.guardrails"]
        items += [measure(r, r.key, deploy_id) for r in found] or [
            Missing(f"no deploy.guardrails result in run {deploy_id}", "dlqa deploy check")
        ]
    return items


def _fingerprints(
    model: ModelInfo,
    deployment: Deployment | Missing,
    data: list[DataEntry] | Missing,
) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []

    def add(what: str, value: Any) -> None:
        if value and (what, str(value)) not in found:
            found.append((what, str(value)))

    add("bundle (evaluated)", model.bundle_fingerprint)
    add("weights (evaluated)", model.weights_fingerprint)
    if isinstance(deployment, Deployment):
        add("bundle (deployment run)", deployment.fingerprint)
        add("weights (deployment run)", deployment.weights)
    if not isinstance(data, Missing):
        for entry in data:
            add(entry.role, entry.fingerprint)
    return found


def _eval_command(model: ModelInfo) -> str:
    if model.bundle_path:
        return f"dlqa model eval {shlex.quote(model.bundle_path)}"
    return "dlqa model eval"
