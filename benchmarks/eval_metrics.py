"""Time and agreement of the confusion-matrix bootstrap against a naive bootstrap.

A synthetic model (seeded) predicts ``--n`` samples of ``--classes`` uniformly drawn classes
right with probability ``--accuracy``, else a uniformly drawn other class.

* **large**: 1,000,000 predictions x 100 classes. ``dlqa.evaluate`` computes 1,000 bootstrap
  resamples of accuracy and of macro F1 (multinomial draws over the confusion matrix, one
  set of resamples for both: ``bootstrap_intervals``). The
  naive bootstrap (resampled indices, then scikit-learn's ``accuracy_score`` and
  ``f1_score(average="macro", labels=present)``) runs ``--naive-resamples`` (20) resamples
  and its time is extrapolated linearly to 1,000; its endpoints from 20 resamples are noisy,
  so their agreement here is indicative only.
* **small**: 20,000 predictions x 10 classes, both bootstraps with 1,000 resamples, so that
  the endpoints are compared at equal Monte Carlo noise.

* **evaluate()**: the public API on the large case's predictions as an (n, C) float32 array
  of probabilities: once with the two gated metrics (``checks=["eval.accuracy",
  "eval.macro_f1"]``: input checks, argmax, confusion matrix, Wilson interval and 1,000
  bootstrap resamples) and once with every headline check (per class, confusion,
  calibration with its own bootstrap as well). Its speedup is against the same naive loop.

Agreement: the largest |endpoint difference| divided by the naive interval's half-width.
Target (issue 11): under 5 s for the fast bootstrap at 1,000,000 x 100, at least 50x faster
than the naive loop, endpoints within 10 % of the half-width. Ends with one JSON line.

    python benchmarks/eval_metrics.py [--n 1000000] [--classes 100] [--resamples 1000]
        [--naive-resamples 20] [--seed 0]
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
from sklearn.metrics import accuracy_score, f1_score

from dlqa.evaluate import bootstrap_intervals, confusion_counts, evaluate

LEVEL = 0.95


def synthetic(
    n: int, c: int, acc: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    y = rng.integers(0, c, n)
    wrong = (y + rng.integers(1, c, n)) % c
    return y, np.where(rng.random(n) < acc, y, wrong)


def naive(
    y: np.ndarray, p: np.ndarray, resamples: int, rng: np.random.Generator
) -> tuple[float, list[float], list[float]]:
    """Seconds and the percentile intervals of accuracy and macro F1, resampling indices."""
    present = np.unique(y)
    accs, f1s = [], []
    start = time.perf_counter()
    for _ in range(resamples):
        idx = rng.integers(0, len(y), len(y))
        accs.append(accuracy_score(y[idx], p[idx]))
        f1s.append(f1_score(y[idx], p[idx], labels=present, average="macro", zero_division=0))
    seconds = time.perf_counter() - start
    alpha = (1 - LEVEL) / 2
    acc_iv = np.quantile(accs, [alpha, 1 - alpha]).tolist()
    f1_iv = np.quantile(f1s, [alpha, 1 - alpha]).tolist()
    return seconds, acc_iv, f1_iv


def fast(y: np.ndarray, p: np.ndarray, c: int, resamples: int, seed: int):
    """Seconds (confusion matrix included) and the intervals of accuracy and macro F1."""
    start = time.perf_counter()
    counts = confusion_counts(y, p, c)
    # One set of resamples for both metrics, as a check computing several would.
    intervals = bootstrap_intervals(counts, resamples, LEVEL, seed)
    seconds = time.perf_counter() - start
    acc, f1 = intervals.accuracy, intervals.macro_f1
    return seconds, [acc.low, acc.high], [f1.low, f1.high]


def probabilities(p: np.ndarray, c: int) -> np.ndarray:
    """(n, C) float32 rows that put 0.6 on the predicted class and share the rest."""
    probs = np.full((len(p), c), 0.4 / (c - 1), dtype=np.float32)
    probs[np.arange(len(p)), p] = 0.6
    return probs


def evaluate_timing(n: int, c: int, acc: float, resamples: int, seed: int) -> dict:
    """Seconds of ``evaluate()`` on the same kind of predictions as ``compare``."""
    rng = np.random.default_rng(seed)
    y, p = synthetic(n, c, acc, rng)
    probs = probabilities(p, c)
    start = time.perf_counter()
    gated = evaluate(y, probs, checks=["eval.accuracy", "eval.macro_f1"], n_resamples=resamples)
    two = time.perf_counter() - start
    start = time.perf_counter()
    everything = evaluate(y, probs, n_resamples=resamples)
    headline = time.perf_counter() - start
    assert {r.check_id for r in gated} == {"eval.accuracy", "eval.macro_f1"}
    print(
        f"evaluate() on {n} x {c}: accuracy + macro F1 {two:.2f} s; all "
        f"{len(everything)} headline checks {headline:.2f} s"
    )
    return {"accuracy_and_macro_f1_seconds": round(two, 3),
            "headline_checks": len(everything), "headline_seconds": round(headline, 3)}  # fmt: skip


def agreement(ours: list[float], theirs: list[float]) -> float:
    half = (theirs[1] - theirs[0]) / 2
    return max(abs(ours[0] - theirs[0]), abs(ours[1] - theirs[1])) / half


def compare(n: int, c: int, acc: float, resamples: int, naive_resamples: int, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    y, p = synthetic(n, c, acc, rng)
    fast_s, fast_acc, fast_f1 = fast(y, p, c, resamples, seed)
    naive_s, naive_acc, naive_f1 = naive(y, p, naive_resamples, rng)
    naive_full = naive_s * resamples / naive_resamples
    result = {
        "n": n,
        "classes": c,
        "resamples": resamples,
        "fast_seconds": round(fast_s, 3),
        "naive_resamples_run": naive_resamples,
        "naive_seconds_measured": round(naive_s, 3),
        "naive_seconds_for_resamples": round(naive_full, 2),
        "naive_extrapolated": naive_resamples != resamples,
        "speedup": round(naive_full / fast_s, 1),
        "accuracy": {
            "fast": [round(v, 6) for v in fast_acc],
            "naive": [round(v, 6) for v in naive_acc],
            "max_endpoint_diff_of_half_width": round(agreement(fast_acc, naive_acc), 3),
        },
        "macro_f1": {
            "fast": [round(v, 6) for v in fast_f1],
            "naive": [round(v, 6) for v in naive_f1],
            "max_endpoint_diff_of_half_width": round(agreement(fast_f1, naive_f1), 3),
        },
    }
    extrapolated = ", extrapolated" if naive_resamples != resamples else ""
    print(
        f"{n:>9} x {c:>3} classes, {resamples} resamples: fast {fast_s:.2f} s, naive "
        f"{naive_full:.1f} s ({naive_resamples} run{extrapolated})"
        f" -> {result['speedup']}x; accuracy {fast_acc} vs {naive_acc}; "
        f"macro F1 {fast_f1} vs {naive_f1}"
    )
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--classes", type=int, default=100)
    parser.add_argument("--accuracy", type=float, default=0.8)
    parser.add_argument("--resamples", type=int, default=1000)
    parser.add_argument("--naive-resamples", type=int, default=20)
    parser.add_argument("--small-n", type=int, default=20_000)
    parser.add_argument("--small-classes", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    large = compare(
        args.n, args.classes, args.accuracy, args.resamples, args.naive_resamples, args.seed
    )
    small = compare(
        args.small_n,
        args.small_classes,
        args.accuracy,
        args.resamples,
        args.resamples,
        args.seed + 1,
    )
    api = evaluate_timing(args.n, args.classes, args.accuracy, args.resamples, args.seed)
    api["speedup"] = round(
        large["naive_seconds_for_resamples"] / api["accuracy_and_macro_f1_seconds"], 1
    )
    ok = (
        large["fast_seconds"] < 5
        and large["speedup"] >= 50
        and api["accuracy_and_macro_f1_seconds"] < 5
        and api["speedup"] >= 50
        and small["accuracy"]["max_endpoint_diff_of_half_width"] <= 0.1
        and small["macro_f1"]["max_endpoint_diff_of_half_width"] <= 0.1
    )
    print(
        json.dumps(
            {
                "benchmark": "eval_metrics",
                "large": large,
                "small": small,
                "evaluate": api,
                "target": "large and evaluate(): under 5 s and >= 50x the naive loop "
                "(extrapolated from naive_resamples_run); small: endpoints within 10 % of the "
                "half-width",
                "ok": ok,
            }
        )
    )


if __name__ == "__main__":
    main()
