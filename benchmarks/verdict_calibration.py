"""How often ``dlqa.exp.stats.compare`` claims a change that is not there, and how often it
finds one that is, by seeds per arm and seed-noise distribution.

For each seed-noise distribution (normal, and Student t with 3 df: heavy tails, scaled to
sd 1), seeds per arm n in {3, 5, 10, 20} and true difference 0, 0.5 or 1.0 seed sd
(candidate higher, higher is better), ``--simulations`` pairs of groups are drawn and each
is decided by the real ``compare`` (``n_resamples=0``: the bootstrap interval is skipped,
the verdict never depends on it). Reported per cell: the false-positive rate (improved or
regressed under no difference, with its Wilson interval; target at most alpha = 5 %, issue
13), the power (improved under a true difference) and the wrong-sign rate (regressed under
an improvement). On a subset (``--ci-subset`` per cell) the bootstrap interval is computed
too, and its coverage of the true difference is reported: it describes, it does not decide.
It is a studentised (bootstrap-t) interval: a percentile one covered about 80 % at 3 seeds.

For contrast, "one run each, higher is better" (candidate's first seed against baseline's
first seed) claims an improvement about 50 % of the time under no difference by
construction (two draws of the same distribution: either is higher with chance 1/2), and
claims *some* change (better or worse) every time. Ends with one JSON line.

    python benchmarks/verdict_calibration.py [--simulations 5000] [--quick] [--seed 0]
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

import numpy as np

from dlqa.core.intervals import wilson_interval
from dlqa.exp.stats import compare

SEEDS = (3, 5, 10, 20)
EFFECTS = (0.0, 0.5, 1.0)  # true difference of means, in seed sd
NOISES = ("normal", "t3")
ALPHA = 0.05


def draw(noise: str, shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
    """Seed noise with mean 0 and sd 1."""
    if noise == "normal":
        return rng.standard_normal(shape)
    return rng.standard_t(3, shape) / np.sqrt(3.0)  # t3 has variance 3


def run_cell(
    noise: str, n: int, effect: float, sims: int, ci_subset: int, rng: np.random.Generator
) -> dict[str, Any]:
    groups = draw(noise, (sims, 2, n), rng)
    groups[:, 1] += effect
    verdicts = [compare(b, c, alpha=ALPHA, n_resamples=0).verdict for b, c in groups]
    improved = sum(v == "improved" for v in verdicts)
    regressed = sum(v == "regressed" for v in verdicts)
    covered = 0
    subset = groups[:ci_subset]
    for i, (b, c) in enumerate(subset):
        low, high = compare(b, c, alpha=ALPHA, n_resamples=1000, seed=i).ci
        covered += low <= effect <= high
    one_run_improved = float((groups[:, 1, 0] > groups[:, 0, 0]).mean())
    row: dict[str, Any] = {"noise": noise, "n": n, "effect_sd": effect, "simulations": sims}
    if effect == 0.0:
        claims = improved + regressed
        interval = wilson_interval(claims, sims)
        row["false_positive_rate"] = round(claims / sims, 4)
        row["false_positive_wilson"] = [round(interval.low, 4), round(interval.high, 4)]
        row["false_positive_count"] = claims
        row["one_run_false_positive_rate"] = round(one_run_improved, 4)
    else:
        row["power"] = round(improved / sims, 4)
        row["wrong_sign_rate"] = round(regressed / sims, 4)
        row["one_run_says_improved"] = round(one_run_improved, 4)
    row["ci_coverage"] = round(covered / len(subset), 3) if len(subset) else None
    return row


def describe(row: dict[str, Any]) -> str:
    head = f"{row['noise']:>6} n={row['n']:>2} diff {row['effect_sd']:.1f} sd:"
    coverage = f"{1 - ALPHA:.0%} bootstrap CI covers {row['ci_coverage']:.2f}"
    if row["effect_sd"] == 0.0:
        low, high = row["false_positive_wilson"]
        return (
            f"{head} false positives {row['false_positive_rate']:.3f} [{low:.3f}, {high:.3f}]"
            f" (one run each: {row['one_run_false_positive_rate']:.3f}); {coverage}"
        )
    return (
        f"{head} power {row['power']:.3f}, wrong sign {row['wrong_sign_rate']:.4f} (one run "
        f"each says improved {row['one_run_says_improved']:.3f}); {coverage}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--simulations", type=int, default=5000, help="per cell")
    parser.add_argument("--ci-subset", type=int, default=200, help="per cell, with bootstrap")
    parser.add_argument("--quick", action="store_true", help="300 simulations per cell")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    sims = 300 if args.quick else args.simulations
    ci_subset = min(sims, 50 if args.quick else args.ci_subset)
    rng = np.random.default_rng(args.seed)
    start = time.perf_counter()
    rows = []
    for noise in NOISES:
        for n in SEEDS:
            for effect in EFFECTS:
                rows.append(run_cell(noise, n, effect, sims, ci_subset, rng))
                print(describe(rows[-1]))
    null = [r for r in rows if r["effect_sd"] == 0.0]
    total_claims = sum(int(r["false_positive_count"]) for r in null)
    pooled = wilson_interval(total_claims, sims * len(null))
    worst = max(null, key=lambda r: r["false_positive_rate"])
    elapsed = time.perf_counter() - start
    print(
        f"pooled false positives {total_claims / (sims * len(null)):.4f} "
        f"[{pooled.low:.4f}, {pooled.high:.4f}] over {sims * len(null)} comparisons under no "
        f"difference; worst cell {worst['false_positive_rate']:.3f} ({worst['noise']}, "
        f"n={worst['n']}); one run each claims an improvement about half the time; "
        f"{sims * len(rows)} comparisons in {elapsed:.1f} s"
    )
    cells_ok = all(r["false_positive_wilson"][0] <= ALPHA for r in null)
    print(
        json.dumps(
            {
                "benchmark": "verdict_calibration",
                "alpha": ALPHA,
                "simulations_per_cell": sims,
                "comparisons": sims * len(rows),
                "rows": rows,
                "pooled_false_positive_rate": round(total_claims / (sims * len(null)), 4),
                "pooled_false_positive_wilson": [round(pooled.low, 4), round(pooled.high, 4)],
                "max_false_positive_rate": worst["false_positive_rate"],
                "max_one_run_false_positive_rate": max(
                    r["one_run_false_positive_rate"] for r in null
                ),
                "target": "improved or regressed under no difference at most 5 % (pooled, and "
                "no cell's Wilson interval wholly above 5 %)",
                "seconds": round(elapsed, 1),
                "ok": total_claims / (sims * len(null)) <= ALPHA and cells_ok,
            }
        )
    )


if __name__ == "__main__":
    main()
