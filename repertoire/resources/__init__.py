"""Curated data shipped with the package: marker panels of cell identity.

``ALTERNATIVE`` joins genes that stand for one marker feature (``IGHG1|IGHG2``: the highest of
them counts).
"""

from ._markers import ALTERNATIVE, marker_panels

__all__ = ["ALTERNATIVE", "marker_panels"]
