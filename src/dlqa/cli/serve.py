"""``dlqa serve BUNDLE``: a bundle on a staging server (``dlqa deploy smoke URL`` checks it)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def _token_option(help_text: str) -> typer.models.OptionInfo:
    return typer.Option("--token", envvar="DLQA_SERVE_TOKEN", help=help_text, show_default=False)


TokenOption = Annotated[
    str | None, _token_option("Bearer token that POST /predict requires (default: none).")
]


def serve_command(
    bundle: Annotated[Path, typer.Argument(help="The bundle folder (dlqa deploy export).")],
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.", min=1, max=65535)] = 8000,
    token: TokenOption = None,
) -> None:
    """Serve a bundle over HTTP: GET /health, /manifest, /golden/NAME; POST /predict (files
    as multipart under "file", or JSON {"inputs": [...]} / {"texts": [...]}), with the
    bundle's guardrails applied to every answer.

    Runs until Ctrl-C or SIGTERM (exit code 0); 2 when the bundle is unusable or the port is
    taken.
    """
    from dlqa.deploy.server import serve

    serve(bundle, host=host, port=port, token=token)


__all__ = ["serve_command"]
