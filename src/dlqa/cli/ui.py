"""``dlqa ui``: the dashboard over the project's store."""

from __future__ import annotations

from typing import Annotated

import typer

from dlqa.cli.common import open_configured_store


def ui_command(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.", min=0, max=65535)] = 8765,
    db: Annotated[
        str | None,
        typer.Option(
            "--db",
            help="Database URL (default: [store] of ./dlqa.toml, else "
            "DLQA_DATABASE_URL, else .dlqa/dlqa.db).",
        ),  # fmt: skip
    ] = None,
    token: Annotated[
        str | None,
        typer.Option(
            "--token",
            envvar="DLQA_UI_TOKEN",
            show_default=False,
            help="Token that saving review verdicts requires (open the dashboard "
            "once with ?token=...). Without one, a non-loopback address is "
            "read-only.",
        ),  # fmt: skip
    ] = None,
) -> None:
    """Serve the dashboard: the latest check with its gates, data snapshots and their diffs,
    evaluation, deployment, experiments, releases and training runs, and the review and
    adjudication queues. Runs until Ctrl-C (exit code 0); 2 when the port is taken."""
    from dlqa.execute.http_server import is_loopback
    from dlqa.ui import UiSettings, serve_ui

    store = open_configured_store(db)
    settings = UiSettings(store=store, host=host, token=token or None,
                          loopback=is_loopback(host))  # fmt: skip
    try:
        serve_ui(settings, port=port)
    finally:
        store.close()


__all__ = ["ui_command"]
