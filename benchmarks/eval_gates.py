"""How often an accuracy gate passes a model, by the model's true accuracy and the eval-set
size: dlqa's gate (the Wilson interval's lower bound must clear the floor) against a gate on
the point estimate.

For each eval-set size n and true accuracy, ``--simulations`` eval sets are drawn (the
number right is binomial) and each is decided as ``eval.accuracy`` decides it
(``dlqa.core.gates.decide`` on ``dlqa.evaluate.metrics.accuracy_interval``). Target
(issue 11): a model whose true accuracy is at or below the floor passes at most 5 % of the
time (the interval's error rate); the point-estimate gate passes it about half the time.
Ends with one JSON line.

    python benchmarks/eval_gates.py [--floor 0.9] [--simulations 20000] [--seed 0]
"""

from __future__ import annotations

import argparse
import json

import numpy as np

from dlqa.core.gates import decide
from dlqa.core.results import Status
from dlqa.evaluate.metrics import accuracy_interval

SIZES = (50, 100, 400, 2000, 10000)
OFFSETS = (-0.02, 0.0, 0.02, 0.05)  # true accuracy minus the floor


def pass_rates(n: int, truth: float, floor: float, simulations: int, rng) -> dict[str, float]:
    params = {"level": "fail"}
    correct = rng.binomial(n, truth, simulations)
    dlqa_passes = inconclusive = 0
    for k in np.unique(correct):  # each distinct count decided once, weighted by how often
        weight = int((correct == k).sum())
        counts = np.array([[k, 0], [n - k, 0]])  # class 0 right k times of n
        status = decide(accuracy_interval(counts), floor, params, higher_is_better=True)
        dlqa_passes += weight * (status is Status.PASS)
        inconclusive += weight * (status is Status.INCONCLUSIVE)
    return {
        "dlqa_pass_rate": round(dlqa_passes / simulations, 4),
        "dlqa_inconclusive_rate": round(inconclusive / simulations, 4),
        "point_estimate_pass_rate": round(float((correct / n >= floor).mean()), 4),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--floor", type=float, default=0.9)
    parser.add_argument("--simulations", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    rows = []
    for n in SIZES:
        for offset in OFFSETS:
            truth = round(args.floor + offset, 4)
            rates = pass_rates(n, truth, args.floor, args.simulations, rng)
            rows.append({"n": n, "true_accuracy": truth, **rates})
            print(
                f"n={n:>6} true {truth:.2f}: dlqa passes {rates['dlqa_pass_rate']:.3f} "
                f"(inconclusive {rates['dlqa_inconclusive_rate']:.3f}), point estimate "
                f"passes {rates['point_estimate_pass_rate']:.3f}"
            )
    at_or_below = [r for r in rows if r["true_accuracy"] <= args.floor]
    worst = max(r["dlqa_pass_rate"] for r in at_or_below)
    worst_naive = max(r["point_estimate_pass_rate"] for r in at_or_below)
    print(
        json.dumps(
            {
                "benchmark": "eval_gates",
                "floor": args.floor,
                "simulations": args.simulations,
                "rows": rows,
                "max_pass_rate_at_or_below_floor": worst,
                "max_point_estimate_pass_rate_at_or_below_floor": worst_naive,
                "target": "dlqa's gate passes a model at or below the floor at most 5 %",
                "ok": worst <= 0.05,
            }
        )
    )


if __name__ == "__main__":
    main()
