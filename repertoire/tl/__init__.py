"""Tools: cell identity, CAR detection, B-cell receptor state, clones, reconstitution, niches."""

from ._annotate import annotate
from ._bcr import bcr_state
from ._car import detect_car
from ._clones import clonotypes
from ._cluster import cluster
from ._composition import composition
from ._diversity import diversity
from ._reconstitution import reconstitution
from ._spatial import spatial_niches
from ._tracking import track_clones

__all__ = [
    "annotate", "bcr_state", "clonotypes", "cluster", "composition", "detect_car", "diversity",
    "reconstitution", "spatial_niches", "track_clones",
]
