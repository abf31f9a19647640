"""``dlqa report RUN_ID``: re-render a stored run, from the store alone."""

from __future__ import annotations

from typing import Annotated

import typer

from dlqa.cli.common import (
    DbOption,
    HtmlOption,
    JsonOption,
    JunitOption,
    QuietOption,
    open_configured_store,
    show_report,
)
from dlqa.runner import load_report, write_reports


def report_command(
    run_id: Annotated[int, typer.Argument(help="The run id that the command printed.")],
    db: DbOption = None,
    json_path: JsonOption = None,
    html: HtmlOption = None,
    junit: JunitOption = None,
    quiet: QuietOption = False,
) -> None:
    """Show a past run again and write its HTML, JSON or JUnit report, from the store alone
    (the source data may be gone). Exit code 0, or 2 when there is no such run."""
    with open_configured_store(db) as store:
        report = load_report(store, run_id)
    written = write_reports(report, explicit={"json": json_path, "html": html, "junit": junit})
    show_report(report, written, quiet=quiet)
