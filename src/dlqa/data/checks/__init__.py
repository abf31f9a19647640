"""Dataset checks. Importing this package registers them (ids ``data.*``)."""

from dlqa.data.checks import balance, duplicates, labels, outliers, samples

__all__ = ["balance", "duplicates", "labels", "outliers", "samples"]
