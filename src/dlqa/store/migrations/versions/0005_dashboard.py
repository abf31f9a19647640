"""The dashboard: adjudicated labels, and an index on the run kind its pages filter by.

Revision ID: 0005_dashboard
Revises: 0004_reviews
Create Date: 2026-11-30
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005_dashboard"
down_revision: str | None = "0004_reviews"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A new table and an index: rows of earlier revisions are untouched.
    op.create_table(
        "adjudications",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.Column("source", sa.String(length=1024), nullable=False),
        sa.Column("item_id", sa.Text(), nullable=False),
        sa.Column("label", sa.Text(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("adjudicator", sa.String(length=255), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], name="fk_adjudications_run_id_runs"),
        sa.PrimaryKeyConstraint("id", name="pk_adjudications"),
    )
    op.create_index("ix_adjudications_source", "adjudications", ["source"])
    op.create_index("ix_runs_kind", "runs", ["kind"])


def downgrade() -> None:
    op.drop_index("ix_runs_kind", table_name="runs")
    op.drop_index("ix_adjudications_source", table_name="adjudications")
    op.drop_table("adjudications")
