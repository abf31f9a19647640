"""Step time of a small CNN training loop on CPU, with and without the training monitor.

Claim: the monitor costs at most 1.01x the step time of the bare loop.

Two loops run in one process, on two copies of the same model with the same batches, their
steps interleaved in blocks of ``--block`` steps (default 1), the order swapping every pair of
blocks (A, B, B, A, A, ...) so that neither loop always follows the other and the machine's
load, which drifts slowly compared with a step, falls on both alike. The steps are compared
in groups of ``activation_every`` steps of each loop: every group holds exactly one sampled
step of the monitor (activation scan and weight snapshot), and the ratio of a group's
monitored time to its bare time is one measurement. The monitor moves from one loop to the
other every group (each loop has its own, attached for its groups only): two copies of a
model in one process do not run at quite the same speed (memory placement: one loop ran 2 %
faster than its twin here), and swapping cancels that.

One measurement is a pair of groups, one with the monitor on each loop: the geometric mean of
their two ratios cancels the difference between the copies exactly. Such pairs in one process
agree closely, but processes do not (the same code measured 1.010 and 1.014 in two runs, each
with an interval of +-0.002 over its own pairs): where a process's memory lands moves a step
by a fraction of a percent. So the benchmark runs ``--runs`` processes one after the other,
each measuring ``--groups`` groups, and the figure is the mean over runs of each run's mean
pair ratio, with its 95 % t-interval over the runs: the run-to-run noise is in the interval.

The verdict is decided by the interval, not by the point estimate: ``ok`` when its upper bound
is at most the target, ``fail`` when its lower bound is above it, ``inconclusive`` when it
straddles the target (more runs, or a quieter machine, would decide). Time is the process's
CPU time: on a shared machine the wall clock also counts the time other processes hold the
core, which the monitor does not cause (both are printed). ``--aa`` monitors neither loop and
measures the method's own noise (an A/A run gave 1.0023 [0.9998, 1.0049] in one process
here). The monitor runs with its default settings and gets ``outputs=`` and ``targets=`` (the
confusion matrix); the bare loop does not even read the loss.

Torch runs with one intra-op thread by default (the same for both loops): on a small shared
machine a second thread makes every step wait for a core that another process may hold.

    python benchmarks/monitor_overhead.py [--runs 8] [--groups 12] [--block 1] [--threads 1] [--aa]
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import statistics
import subprocess
import sys
import time

import torch
from scipy import stats
from torch import nn

from dlqa.train.monitor import TrainingMonitor, monitor

BATCH = 64
CLASSES = 10
TARGET = 1.01
LEVEL = 0.95


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


class Loop:
    """One of the two training loops: its model, optimizer and (for one of them) monitor."""

    def __init__(self, model: nn.Module) -> None:
        self.model = model
        self.optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
        self.watcher: TrainingMonitor | None = None
        self.position = 0  # batches consumed: both loops see the same sequence

    def run(
        self, steps: int, batches: list[tuple[torch.Tensor, torch.Tensor]]
    ) -> list[tuple[float, float]]:
        """Seconds of CPU time and of wall-clock time of each of ``steps`` training steps."""
        times = []
        for _ in range(steps):
            began, began_cpu = time.perf_counter(), time.process_time()
            inputs, targets = batches[self.position % len(batches)]
            self.position += 1
            self.optimizer.zero_grad(set_to_none=True)
            outputs = self.model(inputs)
            loss = nn.functional.cross_entropy(outputs, targets)
            loss.backward()
            if self.watcher is not None:
                self.watcher.step(loss, outputs=outputs, targets=targets)
            self.optimizer.step()
            times.append((time.process_time() - began_cpu, time.perf_counter() - began))
        return times


def t_interval(values: list[float], level: float = LEVEL) -> tuple[float, float, float]:
    """Mean and two-sided t-interval of ``values``."""
    mean = statistics.fmean(values)
    half = stats.t.ppf(0.5 + level / 2, len(values) - 1) * statistics.stdev(values)
    half /= math.sqrt(len(values))
    return mean, mean - half, mean + half


def verdict(low: float, high: float, target: float = TARGET) -> str:
    if high <= target:
        return "ok"
    if low > target:
        return "fail"
    return "inconclusive"


def measure(groups: int, block: int, warmup: int, aa: bool) -> dict:
    """One process's measurement: its pair ratios (CPU, wall) and the time totals."""
    torch.manual_seed(0)
    batches = [
        (torch.randn(BATCH, 1, 28, 28), torch.randint(0, CLASSES, (BATCH,))) for _ in range(16)
    ]
    first = small_cnn()
    loops = (Loop(first), Loop(copy.deepcopy(first)))
    # dlqa.train.monitor's monitor stores nothing (dlqa.monitor would also record a run).
    watchers = [monitor(loop.model, loop.optimizer) for loop in loops]
    group = watchers[0].activation_every or 50
    ratios: list[tuple[float, float]] = []  # (CPU, wall) per group
    totals = [0.0, 0.0, 0.0, 0.0]  # CPU and wall seconds: bare, bare, monitored, monitored
    for index in range(-warmup, groups):
        watched = index % 2
        if not aa:
            loops[watched].watcher = watchers[watched].attach()
        times: tuple[list, list] = ([], [])
        for pair in range(math.ceil(group / block)):
            for which in (0, 1) if pair % 2 == 0 else (1, 0):
                times[which].extend(loops[which].run(block, batches))
        if not aa:
            watchers[watched].close()
            loops[watched].watcher = None
        if index < 0:
            continue
        bare_times, watched_times = times[1 - watched][:group], times[watched][:group]
        sums = [sum(t[clock] for t in seconds) for seconds in (bare_times, watched_times)
                for clock in (0, 1)]  # fmt: skip
        ratios.append((sums[2] / sums[0], sums[3] / sums[1]))
        totals = [total + value for total, value in zip(totals, sums, strict=True)]
    # The geometric mean of a pair's ratios cancels the speed difference of the two copies.
    paired = [
        [math.sqrt(first[clock] * second[clock]) for clock in (0, 1)]
        for first, second in zip(ratios[0::2], ratios[1::2], strict=True)
    ]
    return {
        "pairs": paired,
        "totals": totals,
        "steps": groups * group,
        "group": group,
        "scans": sum(w.activation_scans for w in watchers) - (0 if aa else warmup),
        "findings": sum(len(w.findings) for w in watchers),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=8, help="processes, one after the other")
    parser.add_argument("--groups", type=int, default=12, help="groups of steps per run")
    parser.add_argument("--block", type=int, default=1, help="steps per interleaved block")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--warmup", type=int, default=2, help="untimed groups per run")
    parser.add_argument("--aa", action="store_true", help="monitor neither loop: the noise")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.groups < 2 or args.groups % 2:
        parser.error("--groups must be even (each loop monitored as often)")
    if args.runs < 3:
        parser.error("--runs must be at least 3 for an interval over runs")
    torch.set_num_threads(args.threads)
    if args.worker:
        print(json.dumps(measure(args.groups, args.block, args.warmup, args.aa)))
        return

    worker = [sys.executable, __file__, "--worker", "--groups", str(args.groups),
              "--block", str(args.block), "--threads", str(args.threads),
              "--warmup", str(args.warmup)] + (["--aa"] if args.aa else [])  # fmt: skip
    runs = [
        json.loads(subprocess.run(worker, check=True, capture_output=True, text=True).stdout)
        for _ in range(args.runs)
    ]
    run_means = [
        [statistics.fmean(pair[clock] for pair in run["pairs"]) for clock in (0, 1)] for run in runs
    ]
    mean, low, high = t_interval([cpu for cpu, _ in run_means])
    wall_mean, wall_low, wall_high = t_interval([wall for _, wall in run_means])
    steps = sum(run["steps"] for run in runs)
    totals = [sum(run["totals"][index] for run in runs) for index in range(4)]
    plain_ms, plain_wall_ms, watched_ms, watched_wall_ms = (t / steps * 1000 for t in totals)
    decided = verdict(low, high)
    group = runs[0]["group"]
    per_run = ", ".join(f"{cpu:.4f}" for cpu, _ in run_means)
    print(
        f"small CNN (2 conv + linear), batch {BATCH}, 1x28x28, {args.threads} threads: "
        f"{args.runs} runs (processes) of {args.groups} groups of {group} steps per loop, "
        f"steps interleaved in blocks of {args.block}, the monitor swapping loops every group"
        f"{' (A/A: no monitor)' if args.aa else ''}; CPU time: bare {plain_ms:.2f} ms/step, "
        f"monitored {watched_ms:.2f} ms/step, ratio {mean:.4f}, {LEVEL:.0%} interval over runs "
        f"[{low:.4f}, {high:.4f}] (runs: {per_run}); wall clock: bare {plain_wall_ms:.2f}, "
        f"monitored {watched_wall_ms:.2f} ms/step, ratio {wall_mean:.4f} [{wall_low:.4f}, "
        f"{wall_high:.4f}]; target <= {TARGET} (CPU time): {decided}; "
        f"{sum(run['scans'] for run in runs)} activation scans timed, "
        f"{sum(run['findings'] for run in runs)} findings"
    )
    print(
        json.dumps(
            {
                "benchmark": "monitor_overhead",
                "aa": args.aa,
                "runs": args.runs,
                "groups_per_run": args.groups,
                "group_steps": group,
                "block_steps": args.block,
                "threads": args.threads,
                "step_ms_plain": round(plain_ms, 3),
                "step_ms_monitored": round(watched_ms, 3),
                "ratio": round(mean, 4),
                "ratio_low": round(low, 4),
                "ratio_high": round(high, 4),
                "run_ratios": [round(cpu, 4) for cpu, _ in run_means],
                "wall_ratio": round(wall_mean, 4),
                "wall_ratio_low": round(wall_low, 4),
                "wall_ratio_high": round(wall_high, 4),
                "level": LEVEL,
                "target": TARGET,
                "verdict": decided,
                "ok": decided == "ok",
            }
        )
    )


if __name__ == "__main__":
    main()
