"""One page per stage (evaluation, deployment, experiments, releases, training): each a paged
list of the stage's runs, newest first, with its key figures inline and a link to the run."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from dlqa.store import Store
from dlqa.store.queries import RunSummary
from dlqa.ui.charts import loss_curve, release_charts
from dlqa.ui.stage_views import (
    PARITY_COLUMNS,
    comparison,
    displayable,
    eval_figures,
    monitor_view,
    parity_matrix,
    release_point,
    result_row,
    run_row,
    seed_group,
)
from dlqa.ui.web import page_links, paging_of, render, store_of

Shape = Callable[[Store, list[RunSummary]], list[dict[str, Any]]]
GROUP_KINDS = ("exp.run", "exp.record", "exp.rerun")


@dataclass(frozen=True)
class Stage:
    """A stage page: which runs it lists, how it draws one, and what would fill it."""

    path: str
    title: str
    kinds: tuple[str, ...]
    partial: str  # the template that draws one run of the page
    fill: str  # what to run for the page to show something
    shape: Shape
    per_page: int = 20


def _items(
    store: Store, runs: list[RunSummary], prefixes: list[str], *, reports: bool = False
) -> list[dict[str, Any]]:
    """Each run's row (header, result counts) with its results of the ``prefixes`` checks and,
    with ``reports``, its report parts (never its config or provenance, which can be big)."""
    ids = [run.id for run in runs]
    counts = store.result_counts(ids)
    results = store.results_of_runs(ids, prefixes) if prefixes else {}
    parts = store.run_reports(ids) if reports else {}
    return [
        {
            "run": run_row(run, counts[run.id]),
            "id": run.id,
            "kind": run.kind,
            "report": parts.get(run.id, {}),
            "results": results.get(run.id, []),
        }
        for run in runs
    ]


def _eval(store: Store, runs: list[RunSummary]) -> list[dict[str, Any]]:
    items = _items(store, runs, ["eval."])
    for item in items:
        item["figures"] = eval_figures(item["results"])
    return items


def _deploy(store: Store, runs: list[RunSummary]) -> list[dict[str, Any]]:
    items = _items(store, runs, ["deploy.parity"])
    for item in items:
        item["parity"] = parity_matrix(item["results"])
    return items


def _exp(store: Store, runs: list[RunSummary]) -> list[dict[str, Any]]:
    # A seed group's figures are in its report; the other runs' are in their exp.* results.
    others = [run.id for run in runs if run.kind not in GROUP_KINDS]
    results = store.results_of_runs(others, ["exp."])
    items = _items(store, runs, [], reports=True)
    for item in items:
        exp = item["report"].get("exp") or {}
        group = exp.get("group")
        item["group"] = seed_group(group) if isinstance(group, dict) else None
        found = results.get(item["id"], [])
        item["comparison"] = comparison(found) if item["kind"] == "exp.compare" else None
        item["rows"] = [] if item["comparison"] else [result_row(r) for r in found]
        item["charts_on_run_page"] = bool({"ablation", "sequential", "mode_matrix"} & set(exp))
    return items


def _releases(store: Store, runs: list[RunSummary]) -> list[dict[str, Any]]:
    items = _items(store, runs, ["exp.release_regression"], reports=True)
    for item in items:
        item["point"] = release_point(item["id"], item["report"])
        item["rows"] = [result_row(r) for r in item["results"]]
    return items


def _monitor(store: Store, runs: list[RunSummary]) -> list[dict[str, Any]]:
    items = _items(store, runs, [], reports=True)
    for item in items:
        monitored = item["kind"] == "train.monitor"
        view = monitor_view(item["report"]) if monitored else None
        item["monitor"] = view
        item["curve"] = loss_curve(view["losses"]) if view else None
        failing = [] if view else store.results_with_status(item["id"], ("fail", "error", "warn"))
        item["rows"] = [result_row(r) for r in failing]
    return items


STAGES = (
    Stage("/eval", "Evaluation", ("model.eval", "check"), "stage_eval.html.j2",
          "dlqa model eval (or dlqa check with [eval] configured)", _eval),
    Stage("/deploy", "Deployment", ("deploy.check", "deploy.smoke", "check"),
          "stage_deploy.html.j2", "dlqa deploy check or dlqa deploy smoke", _deploy),
    Stage("/exp", "Experiments", ("exp.",), "stage_exp.html.j2",
          "dlqa exp run, dlqa exp record, dlqa exp compare or dlqa exp ablate", _exp),
    Stage("/releases", "Releases", ("release",), "stage_releases.html.j2",
          "dlqa release record (records a release's metrics)", _releases, per_page=50),
    Stage("/monitor", "Training", ("train.monitor", "train.check", "train.fast"),
          "stage_monitor.html.j2", "dlqa train check, dlqa train fast or a monitored "
          "training run (dlqa.monitor(model, optimizer) in the training script)", _monitor),
)  # fmt: skip


def _shown(item: dict[str, Any]) -> dict[str, Any]:
    # The records and raw results were for shaping; the page shows only what was shaped.
    return {k: v for k, v in item.items() if k not in ("report", "results")}


def _page(stage: Stage) -> Callable[[Any], Any]:
    def page(request: Any) -> Any:
        store = store_of(request)
        paging = paging_of(request, stage.per_page)
        runs = store.run_summaries(stage.kinds, None, paging.offset, paging.per_page)
        items = [_shown(item) for item in stage.shape(store, runs)]
        # Releases: the chart reads left to right, oldest first.
        points = [item["point"] for item in reversed(items) if item.get("point")]
        context = {
            "items": items,
            "charts": release_charts(points) if points else [],
            "pager": page_links(request, paging, len(runs), store.count_runs(stage.kinds)),
        }
        return render(
            request,
            "stage.html.j2",
            title=stage.title,
            stage=stage,
            parity_columns=PARITY_COLUMNS,
            **displayable(context),
        )

    return page


def _routes() -> list[Any]:
    from starlette.routing import Route

    return [Route(stage.path, _page(stage)) for stage in STAGES]


ROUTES = _routes()

__all__ = ["ROUTES", "STAGES", "Stage"]
