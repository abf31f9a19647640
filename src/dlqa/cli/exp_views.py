"""``dlqa exp list`` and ``dlqa exp show``: the stored seed groups, read back from the store."""

from __future__ import annotations

from rich.table import Table

from dlqa.cli.common import DbOption, open_configured_store, stdout
from dlqa.cli.exp_parts import NameArgument, one_decimal
from dlqa.runner.exp import stored_group, stored_groups


def list_command(db: DbOption = None) -> None:
    """The stored seed groups: name, seeds (finished / all), reproducible, latest run."""
    with open_configured_store(db) as store:
        groups = stored_groups(store)
        table = Table("group", "seeds ok", "reproducible", "metrics", "run", "created")
        for name in sorted(groups):
            group = stored_group(store, name)
            table.add_row(
                name,
                f"{len(group.ok)}/{len(group.seeds)}",
                "yes" if group.reproducible else "NO",
                ", ".join(group.metric_names()),
                str(group.run_id),
                group.created_at or "-",
            )
    stdout.print(table if groups else "no seed groups stored yet (dlqa exp run NAME -- CMD)")


def show_command(name: NameArgument, db: DbOption = None) -> None:
    """One group's seeds with their metrics, status, wall time and peak memory."""
    with open_configured_store(db) as store:
        group = stored_group(store, name)
    metrics = group.metric_names()
    table = Table(
        "seed",
        "status",
        *metrics,
        "wall s",
        "peak MB",
        "note",
        title=f"{group.name} (run {group.run_id}, {group.source})",
    )
    for seed in group.seeds:
        values = [f"{seed.metrics[m]:.4g}" if m in seed.metrics else "-" for m in metrics]
        table.add_row(
            str(seed.seed),
            seed.status,
            *values,
            one_decimal(seed.wall_s),
            one_decimal(seed.max_rss_mb),
            seed.reason or "",
        )
    stdout.print(table)
    git = group.git or {}
    stdout.print(
        f"commit {git.get('commit') or '-'}; reproducible: "
        + ("yes" if group.reproducible else f"NO ({group.why_not_reproducible})"),
        highlight=False,
    )


__all__ = ["list_command", "show_command"]
