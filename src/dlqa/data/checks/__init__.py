"""Dataset checks. Importing this package registers them (ids ``data.*``)."""

from dlqa.data.checks import audio, balance, duplicates, labels, outliers, samples, text

__all__ = ["audio", "balance", "duplicates", "labels", "outliers", "samples", "text"]
