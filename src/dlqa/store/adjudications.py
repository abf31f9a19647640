"""Adjudicated labels: the final label an adjudicator chose for a disputed item (mixed into
Store)."""

from __future__ import annotations

from sqlalchemy.orm import Session, sessionmaker


class AdjudicationMethods:
    """The store's adjudication methods (mixed into :class:`dlqa.store.Store`)."""

    url: str
    _sessions: sessionmaker[Session]


__all__ = ["AdjudicationMethods"]
