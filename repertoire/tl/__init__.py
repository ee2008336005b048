"""Tools: clusters, cell identity, CAR detection, B-cell receptor state, clones, reconstitution,
cell-cell communication."""

from ._annotate import annotate
from ._bcr import bcr_state
from ._car import detect_car
from ._clones import clonotypes
from ._cluster import cluster
from ._communication import communication
from ._composition import composition
from ._diversity import diversity
from ._niches import niche_scores
from ._programmes import communication_programmes
from ._reconstitution import reconstitution
from ._tracking import track_clones

__all__ = [
    "annotate", "bcr_state", "clonotypes", "cluster", "communication", "communication_programmes",
    "composition",
    "detect_car", "diversity", "niche_scores", "reconstitution", "track_clones",
]
