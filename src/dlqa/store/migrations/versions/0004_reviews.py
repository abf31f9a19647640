"""Spot checks: drawn review samples and the verdicts reviewers gave on them.

Revision ID: 0004_reviews
Revises: 0003_uncertainty_provenance
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_reviews"
down_revision: str | None = "0003_uncertainty_provenance"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # New tables only: rows of earlier revisions are untouched.
    op.create_table(
        "review_samples",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("snapshot_id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=1024), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("seed", sa.BigInteger(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("strata", sa.String(length=255), nullable=False),
        sa.Column("allocation", sa.JSON(), nullable=False),
        sa.Column("items", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["snapshot_id"], ["snapshots.id"], name="fk_review_samples_snapshot_id_snapshots"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_review_samples"),
    )
    op.create_index("ix_review_samples_snapshot_id", "review_samples", ["snapshot_id"])
    op.create_index("ix_review_samples_source", "review_samples", ["source"])
    op.create_table(
        "review_verdicts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("review_id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=1024), nullable=False),
        sa.Column("sample_id", sa.Text(), nullable=False),
        sa.Column("label", sa.Text(), nullable=True),
        sa.Column("verdict", sa.String(length=16), nullable=False),
        sa.Column("correct_label", sa.Text(), nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("reviewer", sa.String(length=255), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["review_id"], ["review_samples.id"], name="fk_review_verdicts_review_id_review_samples"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_review_verdicts"),
    )
    op.create_index("ix_review_verdicts_review_id", "review_verdicts", ["review_id"])
    op.create_index("ix_review_verdicts_source", "review_verdicts", ["source"])


def downgrade() -> None:
    op.drop_index("ix_review_verdicts_source", table_name="review_verdicts")
    op.drop_index("ix_review_verdicts_review_id", table_name="review_verdicts")
    op.drop_table("review_verdicts")
    op.drop_index("ix_review_samples_source", table_name="review_samples")
    op.drop_index("ix_review_samples_snapshot_id", table_name="review_samples")
    op.drop_table("review_samples")
