"""The model card as Markdown (GitHub-flavoured tables), every piece of user data escaped."""

from __future__ import annotations

from dlqa.report.model_card_format import (
    class_counts,
    counts_line,
    delta_text,
    fmt,
    interval_text,
    md,
    md_code,
    md_measure_row,
    md_missing,
    md_run,
    md_span,
    md_status,
    md_table,
    measure_text,
)
from dlqa.report.model_card_types import Missing, ModelCard

__all__ = ["render_markdown"]


def render_markdown(card: ModelCard) -> str:
    """The card as Markdown (GitHub-flavoured tables)."""
    out: list[str] = [f"# {md(card.title)}", ""]
    out += [
        "Filled from stored evidence only: every figure is a check result stored by the runs "
        "listed under Provenance. What the store does not hold is marked **missing**, with the "
        "command that produces it.",
        "",
    ]
    for note in card.notes:
        out += [f"> {md(note)}", ""]
    out += _md_model(card)
    out += _md_data(card)
    out += _md_metrics(card)
    out += _md_deployment(card)
    out += _md_guardrails(card)
    out += _md_issues(card)
    out += _md_provenance(card)
    return "\n".join(out).rstrip() + "\n"


def _md_model(card: ModelCard) -> list[str]:
    m = card.model
    rows = [
        ["model", md(m.name) if m.name else "-"],
        ["weights", md_code(m.weights) if m.weights else "-"],
        [
            "bundle",
            md_code(m.bundle_path) if m.bundle_path else "- (not evaluated through a bundle)",
        ],
        ["bundle fingerprint", md_code(m.bundle_fingerprint) if m.bundle_fingerprint else "-"],
        ["weights fingerprint", md_code(m.weights_fingerprint) if m.weights_fingerprint else "-"],
        ["classes", fmt(m.classes)],
        ["modality", md(m.modality) if m.modality else "-"],
        ["inputs the model failed on", fmt(m.failed_inputs)],
        ["evaluation", md_run(card.evaluation)],
    ]
    return ["## Model", "", *md_table(["", ""], rows)]


def _md_data(card: ModelCard) -> list[str]:
    out = ["## Data", ""]
    if isinstance(card.data, Missing):
        return out + [md_missing(card.data), ""]
    for entry in card.data:
        out += [f"### {md(entry.role)}: {md_code(entry.source)}", ""]
        if entry.samples is not None:
            out.append(f"- samples evaluated: {entry.samples}")
        if entry.fingerprint:
            out.append(f"- fingerprint: {md_code(entry.fingerprint)}")
        snap = entry.snapshot
        if isinstance(snap, Missing):
            out.append(f"- snapshot: {md_missing(snap)}")
        else:
            line = (
                f"- snapshot {snap.id} (run {snap.run_id}, {md(snap.created_at)}): "
                f"{snap.n_samples} samples"
            )
            if snap.n_errors:
                line += f", {snap.n_errors} unreadable"
            if snap.modality:
                line += f", {md(snap.modality)}"
            out.append(line)
            if snap.class_counts:
                out.append(
                    f"- classes ({len(snap.class_counts)}): {md(class_counts(snap.class_counts))}"
                )
        if isinstance(entry.checks, Missing):
            out.append(f"- data checks: {md_missing(entry.checks)}")
        else:
            counts = counts_line(entry.counts) or "no results"
            out.append(f"- data checks: {md_run(entry.checks)}: {md(counts)}")
        out.append("")
    return out


def _md_metrics(card: ModelCard) -> list[str]:
    where = f" ({md(card.test_set)} set)" if card.test_set else ""
    out = [f"## Metrics{where}", ""]
    header = ["metric", "value", "interval", "n", "threshold", "status"]
    rows, missing = [], []
    for item in card.headline:
        if isinstance(item, Missing):
            missing.append(item)
        else:
            rows.append(md_measure_row(item))
    if rows:
        out += md_table(header, rows)
    out += [f"- {md_missing(m)}" for m in missing] + ([""] if missing else [])

    out += ["### Per class", ""]
    if isinstance(card.per_class, Missing):
        out += [md_missing(card.per_class), ""]
    else:
        out += md_table(
            ["class", "support", "precision", "recall", "recall interval", "F1", "status"],
            [
                [
                    md(row.name),
                    fmt(row.support),
                    f"{fmt(row.precision)} {md_span(row.precision_interval)}".strip(),
                    fmt(row.recall.value),
                    interval_text(row.recall) or "-",
                    f"{fmt(row.f1)} {md_span(row.f1_interval)}".strip(),
                    md_status(row.recall.status),
                ]
                for row in card.per_class
            ],
        )

    out += ["### Per slice", ""]
    if isinstance(card.slices, Missing):
        out += [md_missing(card.slices), ""]
    else:
        out += md_table(
            ["slice", "accuracy", "interval", "n", "threshold", "status"],
            [md_measure_row(s) for s in card.slices],
        )

    out += ["### Calibration", ""]
    cal = card.calibration
    if isinstance(cal, Missing):
        out += [md_missing(cal), ""]
    else:
        out.append(
            f"- expected calibration error: {measure_text(cal.ece)}"
            + (f", max {fmt(cal.ece.threshold)}" if cal.ece.threshold is not None else "")
            + f" ({md_status(cal.ece.status)})"
        )
        if cal.brier is not None:
            brier = f"- Brier score: {fmt(cal.brier)}"
            if cal.brier_low is not None and cal.brier_high is not None:
                brier += f" [{fmt(cal.brier_low)}, {fmt(cal.brier_high)}]"
            out.append(brier)
        if cal.mean_confidence is not None and cal.accuracy is not None:
            out.append(
                f"- mean confidence {fmt(cal.mean_confidence)} vs accuracy {fmt(cal.accuracy)}"
            )
        out.append("")

    if card.evaluation_results:
        out += ["### Every evaluation result", ""]
        out += md_table(
            ["check", "status", "value", "summary"],
            [
                [md_code(r.check), md_status(r.status), measure_text(r), md(r.summary)]
                for r in card.evaluation_results
            ],
        )
    return out


def _md_deployment(card: ModelCard) -> list[str]:
    out = ["## Deployment", ""]
    dep = card.deployment
    if isinstance(dep, Missing):
        return out + [md_missing(dep), ""]
    out.append(f"- {md_run(dep.run)}, found by {md(dep.matched_by)}")
    if dep.bundle:
        out.append(f"- bundle: {md_code(dep.bundle)}")
    if dep.fingerprint:
        out.append(f"- bundle fingerprint: {md_code(dep.fingerprint)}")
    if dep.weights:
        out.append(f"- weights fingerprint: {md_code(dep.weights)}")
    if dep.training_run is not None:
        out.append(f"- training run: {md(dep.training_run)}")
    if dep.refused:
        out.append(f"- **refused**: {md(dep.refused)}")
    if dep.note:
        out.append(f"- note: {md(dep.note)}")
    out.append("")

    out += ["### Parity", ""]
    if isinstance(dep.parity, Missing):
        out += [md_missing(dep.parity), ""]
    else:
        rows = []
        for row in dep.parity:
            accuracy = "-"
            if row.reference_accuracy is not None and row.target_accuracy is not None:
                accuracy = (
                    f"{fmt(row.reference_accuracy)} → {fmt(row.target_accuracy)} "
                    f"({delta_text(row.accuracy_delta)})"
                )
            rows.append(
                [
                    md_code(row.target),
                    md_status(row.status),
                    fmt(row.max_abs_diff),
                    measure_text(row.agreement) if row.agreement.value is not None else "-",
                    accuracy,
                    md(row.error or row.summary),
                ]
            )
        out += md_table(
            ["target", "status", "max abs diff", "top-1 agreement", "accuracy (delta)", "summary"],
            rows,
        )

    for title, item in (
        ("Bundle", dep.bundle_check),
        ("Batch sweep", dep.batch_sweep),
        ("Preprocessing parity", dep.preprocessing),
        ("Smoke test", dep.smoke),
    ):
        out += [f"### {title}", ""]
        if isinstance(item, Missing):
            out += [md_missing(item), ""]
        else:
            where = f" (run {item.run_id})" if item.run_id not in (None, dep.run.id) else ""
            out += [f"{md_status(item.status)}{where}: {md(item.summary)}", ""]

    out += ["### Unexpected inputs", ""]
    if isinstance(dep.unexpected_inputs, Missing):
        out += [md_missing(dep.unexpected_inputs), ""]
    else:
        out += md_table(
            ["input kind", "status", "summary"],
            [[md(m.label), md_status(m.status), md(m.summary)] for m in dep.unexpected_inputs],
        )
    return out


def _md_guardrails(card: ModelCard) -> list[str]:
    out = ["## Guardrails", ""]
    rows, missing = [], []
    for item in card.guardrails:
        if isinstance(item, Missing):
            missing.append(item)
        else:
            rows.append(
                [
                    md_code(item.check),
                    f"run {item.run_id}",
                    md_status(item.status),
                    measure_text(item),
                    fmt(item.threshold),
                    md(item.summary),
                ]
            )
    if rows:
        out += md_table(["check", "run", "status", "value", "threshold", "summary"], rows)
    out += [f"- {md_missing(m)}" for m in missing] + ([""] if missing else [])
    return out


def _md_issues(card: ModelCard) -> list[str]:
    out = ["## Known issues", ""]
    if not card.known_issues:
        return out + [
            "None: no result of the runs above failed, warned, was inconclusive or crashed.",
            "",
        ]
    out.append(
        f"{len(card.known_issues)} result(s) of the runs above failed, warned, were "
        "inconclusive or crashed:"
    )
    out.append("")
    out += md_table(
        ["run", "area", "check", "status", "summary"],
        [
            [str(i.run_id), md(i.area), md_code(i.check), md_status(i.status), md(i.summary)]
            for i in card.known_issues
        ],
    )
    return out


def _md_provenance(card: ModelCard) -> list[str]:
    p = card.provenance
    out = ["## Provenance", "", f"- store: {md_code(p.store_url)}"]
    out.append(f"- card written by dlqa {md(card.dlqa_version)} from the store alone")
    out.append("")
    out += md_table(
        ["run", "role", "kind", "status", "created", "finished", "command", "dlqa", "git"],
        [
            [
                str(r.id),
                md(r.role),
                md(r.kind),
                md(r.status),
                md(r.created_at),
                md(r.finished_at or "-"),
                md_code(r.command),
                md(r.dlqa_version or "-"),
                md(r.git or "-"),
            ]
            for r in p.runs
        ],
    )
    if p.fingerprints:
        out += md_table(
            ["what", "fingerprint"], [[md(what), md_code(fp)] for what, fp in p.fingerprints]
        )
    return out
