"""Wall time of the training sanity battery (all twelve checks, default budgets).

Two setups, batch 32, 10 classes, Adam: the demo's CNN (dlqa.demo.training) on the
scikit-learn digits upscaled to 32 x 32, and a ~10M-parameter MLP on synthetic 3 x 32 x 32
images. The battery's time is dominated by the training checks (overfit_batch up to 200 steps,
input_dependence 2 x 30 steps, loss_decreases 10, determinism 5); the overfit check stops as
soon as the batch is learnt, so the large model is also timed with that check forced to use
its whole budget (the worst case). Target: the 10M-parameter model under 30 s on CPU.

    python benchmarks/sanity_battery.py [--device cpu|cuda|auto] [--repeats 1]
"""

from __future__ import annotations

import argparse
import json
import time

import torch
from sklearn.datasets import load_digits
from torch import nn

from dlqa.demo.training import build_model as build_demo_cnn
from dlqa.train.sanity import run

CLASSES = 10
BATCH = 32


def large_mlp() -> nn.Module:
    """3072 -> 2048 -> 2048 -> 10: about 10.5M parameters."""
    return nn.Sequential(
        nn.Flatten(),
        nn.Linear(3 * 32 * 32, 2048),
        nn.ReLU(),
        nn.Linear(2048, 2048),
        nn.ReLU(),
        nn.Linear(2048, CLASSES),
    )


def digits_batch() -> tuple[torch.Tensor, torch.Tensor]:
    """scikit-learn digits upscaled to the demo CNN's 1 x 32 x 32 input, standardised."""
    digits = load_digits()
    images = torch.tensor(digits.images[:BATCH], dtype=torch.float32).unsqueeze(1) / 16.0
    images = nn.functional.interpolate(images, size=(32, 32), mode="bilinear")
    images = (images - images.mean()) / images.std()
    return images, torch.tensor(digits.target[:BATCH], dtype=torch.long)


def synthetic_batch() -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    images = torch.randn(BATCH, 3, 32, 32, generator=generator)
    return images, torch.arange(BATCH) % CLASSES


# A target below zero is never reached: overfit_batch spends its whole step budget.
FULL_BUDGET = {"train.overfit_batch": {"target_fraction": -1.0, "level": "warn"}}


def time_battery(
    model_factory, batch, device: str, repeats: int, gates: dict | None = None
) -> tuple[float, list]:
    best, results = float("inf"), []
    for _ in range(repeats):
        start = time.perf_counter()
        results = run(
            model_factory,
            nn.CrossEntropyLoss(),
            lambda params: torch.optim.Adam(params, lr=1e-3),
            batch,
            device=device,
            gates=gates,
        )
        best = min(best, time.perf_counter() - start)
    return best, results


def parameter_count(model_factory) -> int:
    return sum(p.numel() for p in model_factory().parameters())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args()

    # Untimed warm-up: the first forward pass pays for torch's lazy initialisation.
    time_battery(build_demo_cnn, digits_batch(), args.device, 1)
    figures = {}
    for label, factory, batch in (
        ("small", build_demo_cnn, digits_batch()),
        ("large", large_mlp, synthetic_batch()),
    ):
        seconds, results = time_battery(factory, batch, args.device, args.repeats)
        params = parameter_count(factory)
        statuses = {r.check_id: r.status.value for r in results}
        failing = sorted(k for k, v in statuses.items() if v in ("fail", "error"))
        print(
            f"{label}: {params:,} parameters, battery {seconds:.2f} s on {args.device} "
            f"({torch.get_num_threads()} threads); failing: {failing or 'none'}"
        )
        figures[f"{label}_params"] = params
        figures[f"{label}_seconds"] = round(seconds, 2)
        figures[f"{label}_failing"] = failing
    worst, _ = time_battery(large_mlp, synthetic_batch(), args.device, args.repeats, FULL_BUDGET)
    print(f"large, overfit_batch using its full 200-step budget: {worst:.2f} s")
    print(
        json.dumps(
            {
                "benchmark": "sanity_battery",
                "device": args.device,
                "small_params": figures["small_params"],
                "small_seconds": figures["small_seconds"],
                "large_params": figures["large_params"],
                "large_seconds": figures["large_seconds"],
                "large_full_budget_seconds": round(worst, 2),
                "failing_checks": figures["small_failing"] + figures["large_failing"],
            }
        )
    )


if __name__ == "__main__":
    main()
