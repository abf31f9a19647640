"""Views of stored results: terminal summary, self-contained HTML, versioned JSON, JUnit XML.

Where things live:

- ``console.print_summary``, ``html.write_html``, ``json_report.write_json``,
  ``junit.write_junit``: the views.
- ``json_report.validate_report_dict`` / ``report_from_dict``: reading v1 and v2 documents.
- ``evidence``: the one table of evidence kinds (``describe_item``, ``evidence_lines``,
  ``evidence_kind``), consulting stage plugins' describers first.
- ``text``: numbers, intervals, status labels, verdict and count lines every view shares.
- ``html_evidence``: how the HTML lays out one result's evidence (tiles, players, snippets).
- ``snippets``: text evidence (``"text"``, a pair's ``"texts"``) with invisible characters
  written out and a pair's differing words found, for every view.
- ``intervals.interval_bar_svg``, ``plots`` (matplotlib charts, ``histogram_bins``),
  ``thumbnails.make_thumbnail``: pictures; ``audio_media.make_audio_preview`` and
  ``make_waveform_thumbnail``: a clip's player and picture; ``media_types``: what stored
  bytes are, and their ``data:`` URIs.
- ``files.write_text_atomic``; JSON-safe conversion is ``dlqa.core.jsonsafe.to_json_safe``.
"""
