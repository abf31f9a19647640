"""``dlqa data review``: spot checks. Draw a review sample, then import the verdicts."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from dlqa.cli.common import DbOption, open_configured_store, stdout
from dlqa.data.review import ErrorRateEstimate
from dlqa.runner.review import DEFAULT_SIZE, import_review_file, sample_for_review

app = typer.Typer(
    rich_markup_mode="markdown",
    help="Spot checks: review a random sample plus the flagged samples, import the verdicts.",
    no_args_is_help=True,
)


@app.command("sample")
def sample_command(
    snapshot: Annotated[
        str | None,
        typer.Argument(help="Snapshot id, 'latest' or 'latest~N' [default: latest]."),
    ] = None,
    size: Annotated[
        int,
        typer.Option(
            "--size",
            min=0,
            help="Random draws, stratified by class (at least 3 per class where possible); "
            "every flagged sample comes on top.",
        ),
    ] = DEFAULT_SIZE,
    seed: Annotated[
        int | None,
        typer.Option(
            "--seed",
            min=0,
            max=2**63 - 1,  # the store keeps seeds as 64-bit integers
            help="Seed of the draw [default: a new one, printed and recorded].",
            show_default=False,
        ),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            help="Folder for review.csv, review.json and review.html [default: ./review-ID].",
            show_default=False,
        ),
    ] = None,
    db: DbOption = None,
) -> None:
    """Draw a review sample from a stored snapshot; write the review file and its gallery."""
    with open_configured_store(db) as store:
        outcome = sample_for_review(store, snapshot, out_dir=out, size=size, seed=seed)
    stdout.print(
        f"review {outcome.review_id} of snapshot {outcome.snapshot.id} "
        f"({outcome.snapshot.source}), seed {outcome.seed}: {outcome.random} drawn at random, "
        f"{outcome.flagged} flagged by checks, {len(outcome.rows)} samples in all",
        highlight=False,
        soft_wrap=True,
    )
    if outcome.previews < len(outcome.rows):
        stdout.print(
            f"note: {len(outcome.rows) - outcome.previews} samples have no preview in the "
            "gallery (files moved, or samples that did not decode)",
            highlight=False,
        )
    stdout.print(f" review file: {outcome.csv_path}", highlight=False, soft_wrap=True)
    stdout.print(f"     gallery: {outcome.html_path}", highlight=False, soft_wrap=True)
    stdout.print(
        "fill in verdict (ok, wrong_label with correct_label, bad_sample), then: "
        f"dlqa data review import {outcome.csv_path}",
        highlight=False,
        soft_wrap=True,
    )


@app.command("import")
def import_command(
    file: Annotated[Path, typer.Argument(help="The filled-in review.csv.")],
    reviewer: Annotated[
        str | None,
        typer.Option(
            "--reviewer",
            help="Who gave the verdicts [default: the user name].",
            show_default=False,
        ),
    ] = None,
    review: Annotated[
        int | None,
        typer.Option(
            "--review",
            help="Review id the file answers [default: from review.json beside it, else the "
            "newest review that drew its ids].",
            show_default=False,
        ),
    ] = None,
    db: DbOption = None,
) -> None:
    """Check a filled-in review file and store its verdicts (a later verdict on a sample
    supersedes an earlier one). Exit code 2, and nothing stored, when any row is wrong."""
    with open_configured_store(db) as store:
        outcome = import_review_file(store, file, reviewer=reviewer, review_id=review)
    kinds = ", ".join(f"{count} {kind}" for kind, count in sorted(outcome.counts.items()))
    line = (
        f"review {outcome.review.id} ({outcome.review.source}): stored {outcome.stored} "
        f"verdict{'s' if outcome.stored != 1 else ''}" + (f" ({kinds})" if kinds else "")
    )
    if outcome.unchanged:
        line += f"; {outcome.unchanged} unchanged"
    if outcome.not_reviewed:
        rows = "row" if outcome.not_reviewed == 1 else "rows"
        line += f"; {outcome.not_reviewed} {rows} not reviewed yet"
    stdout.print(line, highlight=False, soft_wrap=True)
    if outcome.estimate is not None:
        stdout.print(_estimate_line(outcome.estimate), highlight=False, soft_wrap=True)


def _estimate_line(estimate: ErrorRateEstimate) -> str:
    flagged = estimate.flagged
    apart = (
        f"; flagged samples: {flagged['errors']} of {flagged['n']} confirmed as errors"
        if flagged["n"]
        else ""
    )
    if estimate.rate is None:
        return f"error rate: no random draw reviewed yet{apart}"
    low, high = estimate.interval.low, estimate.interval.high
    level = round(estimate.interval.level * 100)
    return (
        f"error rate: {estimate.rate:.1%} ({level} % interval {low:.1%} to {high:.1%}, "
        f"n = {estimate.n} random draws){apart}"
    )
