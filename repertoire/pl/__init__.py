"""Plotting: one function per result, each returning its axes or figure."""

from ._embedding import embedding
from ._qc import qc

__all__ = ["embedding", "qc"]
