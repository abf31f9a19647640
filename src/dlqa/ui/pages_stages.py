"""Dashboard pages (being written)."""

ROUTES: list = []
