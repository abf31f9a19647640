"""What the dashboard's run and stage pages show, shaped from stored runs and results.

Plain functions from records to dicts of strings and numbers: the templates only lay them
out (and escape them). Nothing here reads more than the page it is given.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from statistics import fmean
from typing import Any

from dlqa.core.results import CheckResult, Status
from dlqa.report.text import blocks, format_interval, format_number
from dlqa.sources.folder import display_name
from dlqa.store import Store
from dlqa.store.queries import RunSummary
from dlqa.store.records import RUN_FINISHED, RunRecord

# Worst first: a gate's verdict is the worst status among the results it governs.
SEVERITY = ("error", "fail", "inconclusive", "warn", "pass", "skip")
MAY_BLOCK = ("fail", "error", "inconclusive")
SHORT_COMMIT = 10
FINDINGS_SHOWN = 20  # per run on the training page; the run's report has them all


def displayable(value: Any) -> Any:
    """``value`` (dicts, lists and tuples walked, keys too) with every string one a page can
    encode: a name read with surrogate escapes (undecodable bytes) shows them as ``\\xff``."""
    if isinstance(value, str):
        return display_name(value)
    if isinstance(value, Mapping):
        return {displayable(k): displayable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(displayable(v) for v in value)
    return value


def worst_status(counts: Mapping[str, int]) -> str | None:
    return next((status for status in SEVERITY if counts.get(status)), None)


def result_row(result: CheckResult) -> dict[str, Any]:
    """One result as a row of a results table."""
    return {
        "status": result.status.value,
        "key": result.key,
        "summary": result.summary,
        "value": format_number(result.value),
        "interval": format_interval(result.interval),
        "n": "" if result.n is None else f"{result.n:,}",
        "threshold": format_number(result.threshold),
    }


def run_row(summary: RunSummary, counts: Mapping[str, int]) -> dict[str, Any]:
    """One run as a row of a runs table."""
    return {
        "id": summary.id,
        "kind": summary.kind,
        "title": summary.title or "",
        "status": summary.status,
        "exit_code": "" if summary.exit_code is None else summary.exit_code,
        "counts": [(status, counts[status]) for status in SEVERITY if counts.get(status)],
        "user": summary.user or "",
        "host": summary.host or "",
        "commit": (summary.commit or "")[:SHORT_COMMIT],
        "dirty": summary.dirty,
        "created": summary.created_at.strftime("%Y-%m-%d %H:%M:%S"),
    }


def run_rows(store: Store, summaries: Sequence[RunSummary]) -> list[dict[str, Any]]:
    counts = store.result_counts(s.id for s in summaries)
    return [run_row(summary, counts[summary.id]) for summary in summaries]


def run_header(run: RunRecord) -> dict[str, Any]:
    """The facts at the top of a run's page."""
    git = run.provenance.get("git") or {}

    def when(moment: Any) -> str:
        return "" if moment is None else moment.strftime("%Y-%m-%d %H:%M:%S UTC")

    return {
        "id": run.id,
        "title": run.report.get("title") or f"dlqa {run.kind}",
        "kind": run.kind,
        "status": run.status,
        "exit_code": "" if run.exit_code is None else run.exit_code,
        "command": run.command,
        "user": run.provenance.get("user") or "",
        "host": run.provenance.get("host") or "",
        "commit": (git.get("commit") or "")[:SHORT_COMMIT],
        "dirty": git.get("dirty"),
        "created": when(run.created_at),
        "finished": when(run.finished_at),
    }


def verdict_line(store: Store, run: RunRecord, total: int) -> str:
    """The run's verdict, worded as ``dlqa check`` prints it, read from the results that may
    block (never every result)."""
    allow = bool(run.report.get("allow_inconclusive"))
    suspects = store.results_with_status(run.id, MAY_BLOCK)
    failed = [result.key for result in suspects if blocks(result, allow)]
    if failed:
        noun = "gate" if len(failed) == 1 else "gates"
        return f"{len(failed)} {noun} failed: {', '.join(failed)}"
    complete = run.status == RUN_FINISHED
    if not total:
        return "no checks ran" if complete else "no results stored before the run ended"
    line = "all gates passed" if complete else "no gate failed in the results stored"
    relaxed = sum(1 for result in suspects if result.status is Status.INCONCLUSIVE)
    return line + (f"; {relaxed} inconclusive, not blocking" if relaxed else "")


def gate_rows(run: RunRecord, check_counts: Mapping[str, Mapping[str, int]]) -> list[dict]:
    """The gates of the run's stored config, each with its parameters and the verdict of the
    results of its check (none when the check did not run)."""
    rows = []
    for check_id, params in sorted((run.config.get("gates") or {}).items()):
        counts = check_counts.get(check_id, {})
        rows.append(
            {
                "check": check_id,
                "params": ", ".join(f"{k} = {_param(v)}" for k, v in sorted(dict(params).items())),
                "status": worst_status(counts),
                "counts": [(s, counts[s]) for s in SEVERITY if counts.get(s)],
            }
        )
    return rows


def _param(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(str(item) for item in value) + "]"
    return str(value)


# -- stages ---------------------------------------------------------------------------------


def eval_figures(results: Sequence[CheckResult]) -> list[dict[str, Any]]:
    """The eval results of a run: each metric with its interval and n, and what the slices
    and clusters checks found."""
    rows = []
    for result in results:
        row = result_row(result)
        row["note"] = _eval_note(result)
        rows.append(row)
    return rows


def _eval_note(result: CheckResult) -> str:
    details = result.details
    if result.check_id == "eval.slices" and "slices" in details:
        columns = details.get("columns") or []
        return f"{details['slices']} slices over {len(columns)} column(s)"
    if result.check_id == "eval.embedding_clusters":
        split = details.get("split_classes") or []
        examined = details.get("classes_examined")
        return f"{len(split)} split class(es) of {format_number(examined)} examined"
    return ""


PARITY_COLUMNS = ("max |diff|", "top-1 agreement", "metric change")


def parity_matrix(results: Sequence[CheckResult]) -> list[dict[str, Any]]:
    """The ``deploy.parity`` results as a grid: one row per variant, one cell per measure,
    each cell with its own pass/fail where the variant's tolerance sets a bound."""
    rows = []
    for result in results:
        if not result.check_id.startswith("deploy.parity"):
            continue
        details, tolerance = result.details, result.details.get("tolerance") or {}
        metric = details.get("metric") or {}
        delta = metric.get("delta")
        drop_bound = tolerance.get("max_metric_drop")
        cells = [
            _cell(
                details.get("max_abs_diff"),
                tolerance.get("atol"),
                details.get("inputs_beyond_tolerance") == 0,
            ),
            _cell(
                details.get("top1_agreement"),
                tolerance.get("min_top1_agreement"),
                result.status.value == "pass",
            ),
            _cell(
                delta,
                drop_bound,
                delta is not None and drop_bound is not None and -delta <= drop_bound,
                name=metric.get("name"),
            ),
        ]
        rows.append(
            {
                "variant": result.subject or result.check_id,
                "status": result.status.value,
                "cells": cells,
            }
        )
    return rows


def _cell(value: Any, bound: Any, within: bool, name: str | None = None) -> dict[str, Any]:
    status = "" if value is None or bound is None else ("pass" if within else "fail")
    text = format_number(value) if value is not None else "-"
    return {
        "text": f"{name}: {text}" if name and value is not None else text,
        "bound": format_number(bound) if bound is not None else "",
        "status": status,
    }


def seed_group(group: Mapping[str, Any]) -> dict[str, Any]:
    """A seed group (``exp.run`` / ``exp.record``): its name, seeds and each metric's mean."""
    seeds = [s for s in group.get("seeds") or [] if isinstance(s, Mapping)]
    values: dict[str, list[float]] = {}
    for seed in seeds:
        for metric, value in (seed.get("metrics") or {}).items():
            if isinstance(value, (int, float)) and seed.get("status", "ok") == "ok":
                values.setdefault(str(metric), []).append(float(value))
    return {
        "name": str(group.get("name") or ""),
        "seeds": ", ".join(str(s.get("seed")) for s in seeds),
        "failed": sum(1 for s in seeds if s.get("status", "ok") != "ok"),
        "means": [(m, format_number(fmean(v)), len(v)) for m, v in sorted(values.items())],
    }


def comparison(results: Sequence[CheckResult]) -> dict[str, Any]:
    """An ``exp.compare`` run: each metric's verdict, and the guards around it."""
    verdicts = [
        {
            "metric": r.subject or "",
            "verdict": str(r.details.get("verdict", r.status.value)),
            "reason": str(r.details.get("reason") or r.summary),
            "status": r.status.value,
        }
        for r in results
        if r.check_id == "exp.compare"
    ]
    guards = [result_row(r) for r in results if r.check_id != "exp.compare"]
    return {"verdicts": verdicts, "guards": guards}


def release_point(run_id: int, report: Mapping[str, Any]) -> dict[str, Any] | None:
    """A ``release`` run as a point of the release history: version, per-metric values."""
    release = report.get("release")
    if not isinstance(release, Mapping):
        return None
    metrics = {}
    for name, values in (release.get("metrics") or {}).items():
        numbers = [float(v) for v in values or [] if isinstance(v, (int, float))]
        if numbers:
            metrics[str(name)] = numbers
    return {
        "run_id": run_id,
        "version": str(release.get("version") or run_id),
        "metrics": metrics,
        "intervals": dict(release.get("intervals") or {}),
        "source": str(release.get("source") or ""),
    }


def monitor_view(report: Mapping[str, Any]) -> dict[str, Any]:
    """A ``train.monitor`` run's report: its findings and loss and gradient-norm series."""
    monitor = report.get("monitor")
    monitor = monitor if isinstance(monitor, Mapping) else {}
    losses = [float(x) for x in monitor.get("losses") or [] if isinstance(x, (int, float))]
    norms = [float(x) for x in monitor.get("grad_norms") or [] if isinstance(x, (int, float))]
    findings = [_finding(f) for f in (monitor.get("findings") or [])[:FINDINGS_SHOWN]]
    return {
        "steps": monitor.get("steps"),
        "epochs": monitor.get("epochs"),
        "findings": findings,
        "losses": losses,
        "grad_norms": norms,
        "last_loss": format_number(losses[-1]) if losses else "-",
    }


def _finding(finding: Any) -> str:
    if not isinstance(finding, Mapping):
        return str(finding)
    where = finding.get("module") or finding.get("parameter") or ""
    text = f"step {finding.get('step')}: {finding.get('kind')}"
    text += f" = {format_number(finding['value'])}" if "value" in finding else ""
    return f"{text} in {where}" if where else text


__all__ = [
    "PARITY_COLUMNS",
    "comparison",
    "displayable",
    "eval_figures",
    "gate_rows",
    "monitor_view",
    "parity_matrix",
    "release_point",
    "result_row",
    "run_header",
    "run_rows",
    "seed_group",
    "verdict_line",
    "worst_status",
]
