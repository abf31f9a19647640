"""Time and false alarms of the drift statistics on 200,000 and 2,000,000 rows of 20 properties.

A synthetic dataset of N rows with 20 properties shaped like those a profile holds (bell
curves, log-normal sharpness and file sizes tied to the resolution, a few common
resolutions, a sample rate constant at 16 kHz and one mixed 16/44.1 kHz, zero-inflated
shares, a heavy-tailed DC offset, small integers) and 10 classes is split into two random
halves, reference and current. The three statistics are judged exactly as the checks judge
them, with the checks' default parameters (``dlqa.data.checks.drift``):

* **false alarms**: on the halves, no check may fail (and none should be inconclusive);
* **caught**: on the current half with one shift planted, the check that owns the shift
  fails: brightness x 1.1, resolution halved, class 3's prior doubled (10 % -> 20 %), a
  third of the clips switched from 16 kHz to 8 kHz;
* **seconds**: wall clock of the three statistics (properties, priors, domain classifier) on
  the halves, from numpy arrays (what the checks run after reading the profile's columns).

Small samples too: ``--small-runs`` random halves of ``--small-rows`` rows, counting fails
(false alarms) and inconclusive results. Target: no false alarm anywhere, under 10 s at
2,000,000 rows. Ends with one JSON line.

    python benchmarks/drift.py [--sizes 200000 2000000] [--small-rows 200]
        [--small-runs 50] [--seed 0]
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from dlqa.core.registry import get_spec
from dlqa.data import drift
from dlqa.data import drift_properties as props
from dlqa.data.checks.drift_common import SUGGESTIVE

CHECK_IDS = ("data.property_drift", "data.prior_shift", "data.domain_classifier")
PARAMS = {check_id: get_spec(check_id).resolve_params() for check_id in CHECK_IDS}
CLASSES = 10
SIZES = np.array([[640, 480], [800, 600], [1024, 768], [480, 640], [1920, 1080]])


def dataset(n: int, rng: np.random.Generator) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """20 properties and a class per row."""
    size = SIZES[rng.choice(len(SIZES), n, p=[0.45, 0.2, 0.2, 0.1, 0.05])]
    width, height = size[:, 0].astype(np.float64), size[:, 1].astype(np.float64)
    rms = rng.normal(-25, 8, n)
    columns = {
        "width": width,
        "height": height,
        "aspect_ratio": width / height,
        "brightness": np.clip(rng.normal(115, 40, n), 0, 255),
        "contrast": np.clip(rng.normal(50, 15, n), 1, 127),
        "sharpness": rng.lognormal(5, 1.2, n),
        "entropy": np.clip(rng.normal(7, 0.5, n), 0, 8),
        "colorfulness": np.abs(rng.normal(40, 20, n)),
        "file_size": np.round(width * height * rng.lognormal(-1.5, 0.4, n)),
        "jpeg_quality": rng.integers(75, 96, n).astype(np.float64),
        "duration": rng.uniform(1, 5, n),
        "sample_rate": np.full(n, 16000.0),
        "mixed_rate": np.where(rng.random(n) < 0.95, 16000.0, 44100.0),
        "channels": np.where(rng.random(n) < 0.9, 1.0, 2.0),
        "rms_dbfs": rms,
        "peak_dbfs": np.minimum(0, rms + rng.gamma(4, 4, n)),
        "silent_fraction": rng.beta(1, 6, n),
        "clipped_fraction": np.where(rng.random(n) < 0.9, 0.0, rng.exponential(0.01, n)),
        "dc_offset": rng.standard_t(2, n) * 1e-4,
        "n_faces": rng.poisson(0.7, n).astype(np.float64),
    }
    return columns, rng.integers(0, CLASSES, n)


def judge_all(
    ref: dict[str, np.ndarray],
    cur: dict[str, np.ndarray],
    ref_labels: np.ndarray,
    cur_labels: np.ndarray,
) -> tuple[dict[str, str], dict[str, float], list[str]]:
    """Each check's status ("fail", "inconclusive", "pass") as the check decides it, the
    seconds of each statistic, and the drifted properties."""
    seconds = {}
    start = time.perf_counter()
    shifts = props.property_shifts(ref, cur)
    seconds["properties"] = time.perf_counter() - start
    p = PARAMS["data.property_drift"]
    k = len(shifts)
    limits = (p["max_wasserstein"], p["max_psi"], p["max_changed_fraction"])
    verdicts = [props.judge_property(s, *limits, p["alpha"] / k, SUGGESTIVE / k) for s in shifts]
    drifted = [s.name for s, v in zip(shifts, verdicts, strict=True) if v == "drift"]

    start = time.perf_counter()
    prior = drift.prior_shift(
        [str(c) for c in range(CLASSES)],
        np.bincount(ref_labels, minlength=CLASSES),
        np.bincount(cur_labels, minlength=CLASSES),
    )
    seconds["priors"] = time.perf_counter() - start
    p = PARAMS["data.prior_shift"]
    prior_verdict = drift.judge(
        prior.effect, prior.interval[0], p["max_js"], prior.p_value, p["alpha"], SUGGESTIVE
    )
    if len(prior.shifted_classes(p["max_share_ratio"], p["alpha"])):
        prior_verdict = "drift"

    names = list(ref)
    start = time.perf_counter()
    domain = drift.domain_classifier(
        np.column_stack([ref[name] for name in names]),
        np.column_stack([cur[name] for name in names]),
        names,
        max_per_side=PARAMS["data.domain_classifier"]["max_rows"],
    )
    seconds["domain_classifier"] = time.perf_counter() - start
    p = PARAMS["data.domain_classifier"]
    domain_verdict = drift.judge(
        domain.auc, domain.interval[0], p["max_auc"], domain.p_value, p["alpha"], SUGGESTIVE
    )

    def status(judgements: list[str]) -> str:
        if "drift" in judgements:
            return "fail"
        return "inconclusive" if "undecided" in judgements else "pass"

    statuses = {
        "data.property_drift": status(verdicts),
        "data.prior_shift": status([prior_verdict]),
        "data.domain_classifier": status([domain_verdict]),
    }
    return statuses, seconds, drifted


def planted(
    cur: dict[str, np.ndarray], cur_labels: np.ndarray, rng: np.random.Generator
) -> dict[str, tuple[str, dict[str, np.ndarray], np.ndarray]]:
    """Shift name -> (the check that must fail, current columns, current labels)."""
    m = len(cur_labels)
    brighter = {**cur, "brightness": np.minimum(255, cur["brightness"] * 1.1)}
    smaller = {**cur, "width": cur["width"] // 2, "height": cur["height"] // 2}
    rate = cur["sample_rate"].copy()
    rate[rng.random(m) < 1 / 3] = 8000.0
    switched = {**cur, "sample_rate": rate}
    shares = np.full(CLASSES, 0.8 / (CLASSES - 1))
    shares[3] = 0.2
    doubled = rng.choice(CLASSES, m, p=shares)
    return {
        "brightness_x1.1": ("data.property_drift", brighter, cur_labels),
        "resolution_halved": ("data.property_drift", smaller, cur_labels),
        "class_prior_doubled": ("data.prior_shift", cur, doubled),
        "sample_rate_16k_to_8k": ("data.property_drift", switched, cur_labels),
    }


def split(n: int, rng: np.random.Generator):
    columns, labels = dataset(n, rng)
    order = rng.permutation(n)
    a, b = order[: n // 2], order[n // 2 :]
    return (
        {name: values[a] for name, values in columns.items()},
        {name: values[b] for name, values in columns.items()},
        labels[a],
        labels[b],
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[200_000, 2_000_000])
    parser.add_argument("--small-rows", type=int, default=200)
    parser.add_argument("--small-runs", type=int, default=50)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    by_size = {}
    for n in args.sizes:
        ref, cur, ref_labels, cur_labels = split(n, rng)
        statuses, seconds, drifted = judge_all(ref, cur, ref_labels, cur_labels)
        total = sum(seconds.values())
        alarms = [check for check, status in statuses.items() if status == "fail"]
        undecided = [check for check, status in statuses.items() if status == "inconclusive"]
        print(
            f"{n:>9} rows, 20 properties, random halves: {total:.2f} s "
            f"({', '.join(f'{k} {v:.2f}' for k, v in seconds.items())}); "
            f"false alarms {alarms or 'none'}, inconclusive {undecided or 'none'}"
        )
        caught = {}
        for shift, (owner, shifted, shifted_labels) in planted(cur, cur_labels, rng).items():
            got, _, moved = judge_all(ref, shifted, ref_labels, shifted_labels)
            caught[shift] = got[owner] == "fail"
            others = {c: s for c, s in got.items() if c != owner}
            print(f"  {shift:<24} {owner}: {got[owner]} {moved} (others {others})")
        by_size[str(n)] = {
            "seconds": round(total, 2),
            "seconds_by_statistic": {k: round(v, 2) for k, v in seconds.items()},
            "false_alarms": len(alarms),
            "inconclusive": len(undecided),
            "caught": caught,
        }
    small_fails = small_undecided = 0
    for _ in range(args.small_runs):
        ref, cur, ref_labels, cur_labels = split(args.small_rows, rng)
        statuses, _, _ = judge_all(ref, cur, ref_labels, cur_labels)
        small_fails += sum(status == "fail" for status in statuses.values())
        small_undecided += sum(status == "inconclusive" for status in statuses.values())
    print(
        f"{args.small_runs} random halves of {args.small_rows} rows x 3 checks: "
        f"{small_fails} false alarms, {small_undecided} inconclusive"
    )
    largest = by_size[str(max(args.sizes))]
    ok = (
        all(size["false_alarms"] == 0 and all(size["caught"].values()) for size in by_size.values())
        and small_fails == 0
        and largest["seconds"] < 10
    )
    print(
        json.dumps(
            {
                "benchmark": "drift",
                "properties": 20,
                "sizes": by_size,
                "small": {
                    "rows": args.small_rows,
                    "runs": args.small_runs,
                    "false_alarms": small_fails,
                    "inconclusive": small_undecided,
                },
                "target": "no false alarm; under 10 s at the largest size",
                "ok": ok,
            }
        )
    )


if __name__ == "__main__":
    main()
