"""Step time of a small CNN training loop on CPU, with and without the training monitor.

Both loops run in one process, on two copies of the same model with the same batches, and
their steps alternate one by one (plain, monitored, plain, ...) after a warm-up, so that the
load of the machine (other processes, frequency) falls on both alike. Steps are compared in
groups of ``activation_every`` pairs: every group holds exactly one sampled step of the
monitor (activation scan and weight snapshot), and the ratio of the group's monitored time to
its plain time is one measurement; the figure reported is the median over the groups, which a
stall of the machine in one group does not move. The monitor runs with its default settings
and gets ``outputs=`` and ``targets=`` (the confusion matrix); the plain loop does not even
read the loss. Ratio target: at most 1.03.

Torch runs with one intra-op thread by default (the same for both loops): on a small shared
machine a second thread makes every step wait for a core that another process may hold, and
the noise then swamps a 3 % effect. ``--threads`` changes it.

    python benchmarks/monitor_overhead.py [--groups 10] [--threads 1]
"""

from __future__ import annotations

import argparse
import copy
import json
import statistics
import time

import torch
from torch import nn

from dlqa.train.monitor import TrainingMonitor, monitor

BATCH = 64
CLASSES = 10


def small_cnn() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(32 * 7 * 7, CLASSES),
    )


def train_step(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    batch: tuple[torch.Tensor, torch.Tensor],
    watcher: TrainingMonitor | None,
) -> float:
    """Seconds for one training step."""
    inputs, targets = batch
    began = time.perf_counter()
    optimizer.zero_grad(set_to_none=True)
    outputs = model(inputs)
    loss = nn.functional.cross_entropy(outputs, targets)
    loss.backward()
    if watcher is not None:
        watcher.step(loss, outputs=outputs, targets=targets)
    optimizer.step()
    return time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--groups", type=int, default=10, help="groups of steps compared")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--warmup", type=int, default=50, help="untimed steps per loop")
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    batches = [
        (torch.randn(BATCH, 1, 28, 28), torch.randint(0, CLASSES, (BATCH,))) for _ in range(16)
    ]
    plain_model = small_cnn()
    watched_model = copy.deepcopy(plain_model)
    plain_optimizer = torch.optim.SGD(plain_model.parameters(), lr=0.01, momentum=0.9)
    watched_optimizer = torch.optim.SGD(watched_model.parameters(), lr=0.01, momentum=0.9)

    with monitor(watched_model, watched_optimizer) as watcher:
        group = watcher.activation_every
        # A whole number of groups of warm-up: the sampled step stays first in every group.
        warm = group * max(1, round(args.warmup / group))
        for index in range(warm):
            train_step(plain_model, plain_optimizer, batches[index % len(batches)], None)
            train_step(watched_model, watched_optimizer, batches[index % len(batches)], watcher)

        plain_times: list[float] = []
        watched_times: list[float] = []
        for index in range(args.groups * group):
            batch = batches[index % len(batches)]
            # Swap which loop goes first every step: neither always follows the other.
            if index % 2:
                watched_times.append(train_step(watched_model, watched_optimizer, batch, watcher))
                plain_times.append(train_step(plain_model, plain_optimizer, batch, None))
            else:
                plain_times.append(train_step(plain_model, plain_optimizer, batch, None))
                watched_times.append(train_step(watched_model, watched_optimizer, batch, watcher))

    steps = args.groups * group
    groups = range(0, steps, group)
    plain_groups = [sum(plain_times[g : g + group]) / group for g in groups]
    watched_groups = [sum(watched_times[g : g + group]) / group for g in groups]
    ratio = statistics.median(w / p for w, p in zip(watched_groups, plain_groups, strict=True))
    plain_ms = statistics.median(plain_groups) * 1000
    watched_ms = statistics.median(watched_groups) * 1000
    mean_ratio = sum(watched_times) / sum(plain_times)
    print(
        f"small CNN (2 conv + linear), batch {BATCH}, 1x28x28, {args.threads} threads, "
        f"{steps} steps per loop, alternating, compared in {args.groups} groups of {group}: "
        f"plain {plain_ms:.2f} ms/step, monitored {watched_ms:.2f} ms/step; ratio "
        f"{ratio:.3f} (median of group ratios; ratio of total times {mean_ratio:.3f}; target "
        f"<= 1.03); {watcher.activation_scans - warm // group} activation scans timed, "
        f"{len(watcher.findings)} findings"
    )
    print(
        json.dumps(
            {
                "benchmark": "monitor_overhead",
                "steps": steps,
                "threads": args.threads,
                "step_ms_plain": round(plain_ms, 3),
                "step_ms_monitored": round(watched_ms, 3),
                "ratio": round(ratio, 4),
                "ratio_of_means": round(mean_ratio, 4),
            }
        )
    )


if __name__ == "__main__":
    main()
