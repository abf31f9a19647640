"""The label checks of the batches: the range of the labels against the declared classes
(``data.batch_labels``) and how each batch mixes classes (``data.batch_class_mix``)."""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np

from dlqa.core.gates import verdict
from dlqa.core.results import CheckResult, Evidence, Status
from dlqa.data.batch_context import BatchesContext, BatchRecord
from dlqa.data.batch_mix import batch_rows, class_mix, expected_classes

MAX_ROWS = 20
_RULE_OF_THREE = 3.0  # 95 % upper bound of a share never seen in n draws is about 3 / n


def _labelled(context: BatchesContext) -> list[BatchRecord]:
    return [b for b in context.batches if b.labels is not None]


def judge_labels(context: BatchesContext, params: dict[str, Any]) -> CheckResult:
    check_id = "data.batch_labels"
    labelled = _labelled(context)
    names = context.declared.class_names
    if not labelled:
        why = "the loader yielded no batches" if not context.batches else "no batch has labels"
        return CheckResult(check_id, Status.SKIP, f"{why}: no label range to check")
    not_numbers = [b for b in labelled if b.labels is not None and not b.labels.numeric]
    if not_numbers:
        kind = not_numbers[0].labels.dtype if not_numbers[0].labels else "?"
        # Labels that are not numbers are data.batch_dtype's failure; one report is enough.
        summary = (
            f"labels of {len(not_numbers)} batches are {kind}, not numbers: no range to "
            "check (see data.batch_dtype)"
        )
        return CheckResult(check_id, Status.SKIP, summary)
    if not all(b.labels is not None and b.labels.integral for b in labelled):
        if names:
            return CheckResult(check_id, verdict(True, params), "labels are not whole numbers "
                               "although class_names are declared: not class indices")  # fmt: skip
        return CheckResult(check_id, Status.SKIP, "labels are not whole numbers (regression "
                           "targets?): no class range to check")  # fmt: skip
    counts: Counter[int] = Counter()
    where: dict[int, list[int]] = {}
    for b in labelled:
        assert b.labels is not None
        for value, count in zip(b.labels.values.tolist(), b.labels.counts.tolist(), strict=True):
            if value == context.declared.ignore_index:
                continue
            counts[value] += count
            where.setdefault(value, []).append(b.index)
    failures = []
    if names:
        widths = {b.labels.soft_width for b in labelled if b.labels and b.labels.soft_width}
        if widths - {len(names)}:
            failures.append(f"soft labels have {sorted(widths)} columns for {len(names)} classes")
        bad = sorted(v for v in counts if not 0 <= v < len(names))
    else:
        bad = sorted(v for v in counts if v < 0)
    total = sum(counts.values())
    if bad:
        text = f"{sum(counts[v] for v in bad)} of {total} labels are outside " + (
            f"0..{len(names) - 1} ({len(names)} classes declared)" if names else "0.. (negative)"
        )
        text += f": values {bad[:8]}"
        if names and counts and min(counts) == 1 and max(counts) == len(names):
            text += f"; the labels run 1..{len(names)}: off by one (subtract 1)"
        elif not names:
            text += " (declare ignore_index=... if the loss ignores them)"
        failures.append(text)
    missing = [names[i] for i in range(len(names)) if i not in counts] if names else []
    rows = [{"label": v, "count": counts[v], "batches": where[v][:5]} for v in bad]
    if failures:
        summary = "; ".join(failures)
    elif counts:
        span = f"{min(counts)}..{max(counts)}"
        summary = f"{total} labels in {span}" + (
            f" for {len(names)} declared classes" if names else
            " (declare class_names to check them against the classes)"
        )  # fmt: skip
        if missing:
            summary += f"; not seen in these batches: {', '.join(missing[:8])}"
    else:
        summary = "every label is the ignore_index"
    return CheckResult(
        check_id,
        verdict(bool(failures), params),
        summary,
        value=sum(counts[v] for v in bad),
        threshold=0,
        n=total,
        evidence=[Evidence("table", rows[:MAX_ROWS], len(rows))] if rows else [],
        details={"counts": dict(sorted(counts.items())), "missing_classes": missing},
    )


def judge_class_mix(context: BatchesContext, params: dict[str, Any]) -> CheckResult:
    check_id = "data.batch_class_mix"
    declared = context.declared
    if not declared.shuffled:
        return CheckResult(check_id, Status.SKIP, "declared unshuffled (shuffled=False, an "
                           "evaluation loader): the class mix is not judged")  # fmt: skip
    rows: list[tuple[int, np.ndarray, np.ndarray]] = []
    for b in _labelled(context):
        stats = b.labels
        if stats is None or not (stats.numeric and stats.per_sample and stats.integral):
            continue
        keep = stats.values != declared.ignore_index
        if keep.any():
            rows.append((b.index, stats.values[keep], stats.counts[keep]))
    if not rows:
        return CheckResult(check_id, Status.SKIP, "no batch has one class label per sample")
    names = declared.class_names
    samples = int(sum(counts.sum() for _, _, counts in rows))
    seen = np.unique(np.concatenate([values for _, values, _ in rows]))
    if len(rows) < 2:
        return CheckResult(check_id, Status.INCONCLUSIVE, "one labelled batch: nothing to "
                           "compare its class mix with", n=samples)  # fmt: skip
    if len(seen) == 1:
        return _one_class(check_id, int(seen[0]), samples, len(rows), names, params)
    mix = class_mix([(values, counts) for _, values, counts in rows], params["permutations"])
    evidence = batch_rows(mix, [index for index, _, _ in rows], names, MAX_ROWS)
    pool = mix.table.sum(axis=0)
    sizes = mix.table.sum(axis=1)
    observed = float((mix.table > 0).sum(axis=1).mean())
    expected = float(np.mean([expected_classes(int(n), pool) for n in sizes]))
    # At the floor of the test, no random split came near: say so rather than "p = 0.001".
    floor = mix.p_value <= 1.0 / (params["permutations"] + 1) + 1e-12
    p_text = f"p <= {mix.p_value:.2g}" if floor else f"p = {mix.p_value:.3g}"
    found = (
        f"{observed:.2f} classes per batch where shuffling gives {expected:.2f} "
        f"({p_text}, clustering {mix.effect:.2f}; {samples} samples in "
        f"{mix.batches} batches)"
    )
    significant = mix.p_value <= params["alpha"]
    if significant and mix.effect >= params["min_effect"]:
        status = verdict(True, params)
        summary = (
            f"batches hold few classes each: {found}: an unshuffled loader over a sorted "
            "dataset? (shuffle=True; declare shuffled=False for an evaluation loader)"
        )
    elif significant:
        status = Status.WARN
        summary = f"batches are slightly clustered by class: {found}"
    elif not mix.detectable(params["min_effect"]):
        status = Status.INCONCLUSIVE
        summary = f"too few samples to tell a shuffled loader from a sorted one: {found}"
    else:
        status = Status.PASS
        summary = f"batches mix classes as a shuffled loader's do: {found}"
    return CheckResult(
        check_id,
        status,
        summary,
        value=mix.effect,
        threshold=params["min_effect"],
        n=samples,
        evidence=[Evidence("table", evidence, len(evidence))],
        details={
            "p_value": mix.p_value,
            "chi_square": mix.statistic,
            "chi_square_shuffled_mean": mix.null_mean,
            "chi_square_shuffled_max": mix.null_max,
            "classes_per_batch": observed,
            "classes_per_batch_shuffled": expected,
        },
    )


def _one_class(
    check_id: str,
    value: int,
    samples: int,
    batches: int,
    names: tuple[str, ...] | None,
    params: dict[str, Any],
) -> CheckResult:
    name = names[value] if names and 0 <= value < len(names) else str(value)
    bound = _RULE_OF_THREE / samples
    found = f"all {samples} labelled samples of {batches} batches are class {name}"
    if names and len(names) > 1 and samples >= params["min_samples"]:
        summary = (
            f"{found} while {len(names)} classes are declared: from a shuffled loader, that "
            f"means the other classes make up less than {100 * bound:.2g}% of the data; an "
            "unshuffled loader over a sorted dataset?"
        )
        return CheckResult(check_id, verdict(True, params), summary, value=1.0,
                           threshold=params["min_effect"], n=samples)  # fmt: skip
    hint = "declare class_names" if not names or len(names) < 2 else "more batches"
    return CheckResult(check_id, Status.INCONCLUSIVE, f"{found}: one class only (a one-class "
                       f"dataset, or a sorted loader?); {hint} to decide", n=samples)  # fmt: skip
