"""Dataset snapshots: one per profiled source, pointing at its per-sample table.

Revision ID: 0002_snapshots
Revises: 0001_initial
Create Date: 2024-11-24
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002_snapshots"
down_revision: str | None = "0001_initial"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "snapshots",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("source", sa.String(length=1024), nullable=False),
        sa.Column("fingerprint", sa.String(length=128), nullable=False),
        sa.Column("n_samples", sa.Integer(), nullable=False),
        sa.Column("table_digest", sa.String(length=64), nullable=False),
        sa.Column("summary", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], name="fk_snapshots_run_id_runs"),
        sa.ForeignKeyConstraint(
            ["table_digest"],
            ["artifacts.digest"],
            name="fk_snapshots_table_digest_artifacts",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_snapshots"),
    )
    op.create_index("ix_snapshots_run_id", "snapshots", ["run_id"])
    op.create_index("ix_snapshots_source", "snapshots", ["source"])
    op.create_index("ix_snapshots_table_digest", "snapshots", ["table_digest"])


def downgrade() -> None:
    op.drop_index("ix_snapshots_table_digest", table_name="snapshots")
    op.drop_index("ix_snapshots_source", table_name="snapshots")
    op.drop_index("ix_snapshots_run_id", table_name="snapshots")
    op.drop_table("snapshots")
