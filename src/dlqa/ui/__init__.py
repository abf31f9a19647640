"""``dlqa ui``: the local dashboard, a server-rendered view of the store.

Every page reads stored runs, results, snapshots and reviews (the data ``dlqa report``
renders); the only writes are the review and adjudication verdicts, saved as they are made.
Pages are jinja2 templates with autoescaping, one stylesheet and one small script shipped in
the package: no build step, no CDN, nothing fetched from outside.
"""

from dlqa.ui.app import create_app, serve_ui
from dlqa.ui.web import UiSettings

__all__ = ["UiSettings", "create_app", "serve_ui"]
