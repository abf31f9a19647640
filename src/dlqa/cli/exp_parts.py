"""The small pieces of ``dlqa exp``: the group-name argument, reading imported runs, parsing
NAME=VALUE options, and the terminal's lines for a comparison (seed dots on one scale, a
sequential path)."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Annotated

import typer

from dlqa.core.errors import UsageError
from dlqa.exp.groups import SEED_OK, SeedRecord

DOT_WIDTH = 48

NameArgument = Annotated[str, typer.Argument(help="The seed group's name.", show_default=False)]


def seed_dot_lines(result: object) -> list[str]:
    """Each group's seeds as dots on one shared scale, with the means and the interval."""
    groups = next((e.items for e in result.evidence if e.kind == "seed_groups"), [])  # type: ignore[attr-defined]
    values = [v for g in groups for v in g["values"]]
    if not values:
        return []
    low, high = min(values), max(values)
    span = (high - low) or 1.0
    lines = [f"{result.subject}: {low:.4g} .. {high:.4g}"]  # type: ignore[attr-defined]
    for group in groups:
        row = [" "] * DOT_WIDTH
        for value in group["values"]:
            row[round((value - low) / span * (DOT_WIDTH - 1))] = "o"
        mean = sum(group["values"]) / len(group["values"]) if group["values"] else float("nan")
        lines.append(
            f"  {group['role']:>9} |{''.join(row)}| mean {mean:.4g} (n={len(group['values'])})"
        )
    return lines


def sequential_lines(result: object) -> list[str]:
    """The looks of a sequential comparison: seeds, the estimate and each look's decision."""
    looks = next((e.items for e in result.evidence if e.kind == "sequential_path"), [])  # type: ignore[attr-defined]
    return [
        f"  look {look['look']}, {look['seeds']} seeds each: {look['difference']:+.4g} "
        f"(p {look['p_value']:.2g}, stops below {look['efficacy_level']:.2g}): {look['decision']}"
        for look in looks
    ]


def parse_override(text: str) -> tuple[str, str]:
    key, sep, reason = text.partition("=")
    if not sep or not reason.strip():
        raise UsageError(
            f"--override {text!r}: expected GUARD=REASON",
            hint='--override exp.baseline_fresh="why"',
        )
    return key.strip(), reason.strip()


def parse_change(text: str) -> tuple[str, str]:
    name, sep, args = text.partition("=")
    if not sep or not name.strip():
        raise UsageError(f"--change {text!r}: expected NAME=ARGS", hint='--change A="--mixup 0.2"')
    if not args.strip():
        raise UsageError(f"--change {text!r}: change {name.strip()!r} names no arguments")
    return name.strip(), args.strip()


def one_decimal(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def read_records(files: list[Path]) -> list[SeedRecord]:
    if len(files) == 1 and files[0].suffix.lower() == ".csv":
        try:
            with files[0].open(newline="", encoding="utf-8") as handle:
                rows = list(csv.DictReader(handle))
        except OSError as exc:
            raise UsageError(f"{files[0]}: {exc}") from None
        return [seed_record(i, row, str(files[0])) for i, row in enumerate(rows)]
    records = []
    for index, path in enumerate(files):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise UsageError(f"{path}: not a readable JSON file: {exc}") from None
        if not isinstance(data, dict):
            raise UsageError(f"{path}: expected a flat JSON object of metrics")
        records.append(seed_record(index, data, str(path)))
    return records


def seed_record(index: int, row: dict, where: str) -> SeedRecord:
    raw = row.pop("seed", None)  # a JSON seed of 0 is a seed, an empty CSV cell is not
    try:
        seed = index if raw in (None, "") else int(raw)
    except (TypeError, ValueError):
        raise UsageError(f"{where}: seed = {raw!r} is not an integer") from None
    metrics = {}
    for key, value in row.items():
        try:
            metrics[key] = float(value)
        except (TypeError, ValueError):
            raise UsageError(f"{where}: {key} = {value!r} is not a number") from None
    if not metrics:
        raise UsageError(f"{where}: no metrics")
    return SeedRecord(seed, SEED_OK, metrics=metrics)


def sequential_options(
    metric: str | None,
    min_effect: float | None,
    max_seeds: int | None,
    lower: list[str] | None,
    timeout_s: float | None,
) -> dict[str, object]:
    return {
        "metric": metric,
        "min_effect": min_effect,
        "max_seeds": max_seeds,
        "lower_is_better": list(lower or ()),
        "timeout_s": timeout_s,
    }
