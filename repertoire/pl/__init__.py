"""Plotting: one function per result, each returning its axes or figure."""

from ._annotate import cell_types, composition, marker_dotplot
from ._embedding import embedding
from ._qc import qc

__all__ = ["cell_types", "composition", "embedding", "marker_dotplot", "qc"]
