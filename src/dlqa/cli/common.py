"""Pieces the commands share: options, progress bars, the store, writing and showing reports."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from dlqa.config import CONFIG_FILENAME, Config, default_config, load_config
from dlqa.core.errors import UsageError
from dlqa.report.console import print_summary
from dlqa.report.model import Report
from dlqa.store import Store, open_store, resolve_database_url

# Boolean options are flags: an empty metavar keeps typer from showing them as "<bool>".
FLAG = ""
DbOption = Annotated[
    str | None,
    typer.Option(
        "--db",
        help="Database URL (default: DLQA_DATABASE_URL, else SQLite at .dlqa/dlqa.db).",
        show_default=False,
    ),
]
WorkersOption = Annotated[
    int | None,
    typer.Option("--workers", "-w", help="Worker processes (default: one per core).", min=1),
]
# Where data profiling runs: this machine's process pool, or a Dask cluster ([execute]).
ExecutorOption = Annotated[
    str | None,
    typer.Option(
        "--executor",
        help="Where samples are probed: 'local' (process pool) or 'dask' (a Dask cluster; "
        "default: [execute] backend, else local).",
        show_default=False,
    ),
]
AddressOption = Annotated[
    str | None,
    typer.Option(
        "--address",
        help="Dask scheduler tcp://HOST:PORT for --executor dask (default: [execute] "
        "address, else a local Dask cluster).",
        show_default=False,
    ),
]
WorkerRootOption = Annotated[
    str | None,
    typer.Option(
        "--worker-root",
        help="Where the Dask workers see the data's root, when they mount the shared file "
        "system elsewhere (default: [execute] worker_root, else the same path).",
        show_default=False,
    ),
]
JsonOption = Annotated[
    Path | None, typer.Option("--json", help="Write the versioned JSON results here.")
]
HtmlOption = Annotated[
    Path | None, typer.Option("--html", help="Write the self-contained HTML report here.")
]
JunitOption = Annotated[Path | None, typer.Option("--junit", help="Write JUnit XML here.")]
QuietOption = Annotated[
    bool,
    typer.Option("--quiet", "-q", help="No progress bar and no summary table.", metavar=FLAG),
]
# `dlqa check` and `dlqa train ...` need a project file (default ./dlqa.toml)...
ConfigOption = Annotated[
    Path, typer.Option("--config", "-c", help="The project's configuration file.")
]
# ...the commands that take their data on the command line read one when there is one.
OptionalConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config",
        "-c",
        help="dlqa.toml for the store, report folder, column options and gates "
        "(default: ./dlqa.toml when it exists).",
    ),
]
AllowInconclusiveOption = Annotated[
    bool,
    typer.Option(
        "--allow-inconclusive",
        help="Inconclusive results (too little data to decide) do not fail the run.",
        metavar=FLAG,
    ),
]

stdout = Console()
stderr = Console(stderr=True)


@contextmanager
def progress_bars(*, quiet: bool) -> Iterator[Callable[[int, str], Callable[[int], None]]]:
    """A factory of rich progress bars, one per long step a stage starts, shown on a terminal
    only: silent in a pipe, in CI logs or with --quiet."""
    if quiet or not sys.stderr.isatty():
        yield lambda total, description: lambda advance: None
        return
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=stderr, transient=True) as progress:

        def start(total: int, description: str) -> Callable[[int], None]:
            task = progress.add_task(description, total=total)
            return lambda advance: progress.update(task, advance=advance)

        yield start


def show_report(report: Report, written: dict[str, Path], *, quiet: bool) -> None:
    if not quiet:
        print_summary(report, stdout)
    for fmt, path in written.items():
        stdout.print(f"{fmt:>5} report: {path}", highlight=False, soft_wrap=True)


def require_file_parent(path: Path | None, option: str) -> None:
    if path is not None and path.exists() and path.is_dir():
        raise UsageError(f"{option} {path}: is a folder; give a file path")


def load_project_config(path: Path | None) -> Config:
    """``path`` when given; else ./dlqa.toml when it exists; else the defaults."""
    if path is not None:
        return load_config(path)
    if Path(CONFIG_FILENAME).is_file():
        return load_config(CONFIG_FILENAME)
    return default_config()


def with_executor(
    settings: Config, executor: str | None, address: str | None, worker_root: str | None = None
) -> Config:
    """``settings`` with ``--executor``/``--address``/``--worker-root`` over its [execute]
    section (the options win); ``--address`` alone means the Dask backend."""
    if executor is None and address is None and worker_root is None:
        return settings
    backend = executor or ("dask" if address is not None else settings.execute.backend)
    if backend not in ("local", "dask"):
        raise UsageError(
            f"--executor must be 'local' or 'dask', got {backend!r}",
            hint="'dask' runs on the scheduler at --address, or on a local Dask cluster",
        )
    for option, value in (("--address", address), ("--worker-root", worker_root)):
        if value is not None and backend != "dask":
            raise UsageError(f"{option} is for --executor dask", hint="add --executor dask")
    update: dict[str, Any] = {"backend": backend}
    if backend != "dask":
        update.update(address=None, worker_root=None)
    else:
        update.update({k: v for k, v in (("address", address), ("worker_root", worker_root)) if v})
    execute = settings.execute.model_copy(update=update)
    return settings.model_copy(update={"execute": execute})


def open_configured_store(db: str | None) -> Store:
    """The store that ``--db``, else ./dlqa.toml's [store], else the defaults name."""
    settings = load_project_config(None)
    return open_store(
        resolve_database_url(db, settings.store.url, settings.base_dir),
        project_dir=settings.base_dir,
        artifacts=settings.store.artifacts,
    )
