"""Results carry subject, n and interval; runs carry provenance and their report parts.

Revision ID: 0003_uncertainty_provenance
Revises: 0002_snapshots
Create Date: 2026-11-29
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_uncertainty_provenance"
down_revision: str | None = "0002_snapshots"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Nullable columns only: rows written by dlqa 0.1.0 stay valid as they are.
    with op.batch_alter_table("results") as batch:
        batch.add_column(sa.Column("subject", sa.String(length=255), nullable=True))
        batch.add_column(sa.Column("n", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("interval_low", sa.Float(), nullable=True))
        batch.add_column(sa.Column("interval_high", sa.Float(), nullable=True))
        batch.add_column(sa.Column("interval_level", sa.Float(), nullable=True))
    with op.batch_alter_table("runs") as batch:
        batch.add_column(sa.Column("provenance", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("report", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.drop_column("report")
        batch.drop_column("provenance")
    with op.batch_alter_table("results") as batch:
        batch.drop_column("interval_level")
        batch.drop_column("interval_high")
        batch.drop_column("interval_low")
        batch.drop_column("n")
        batch.drop_column("subject")
