"""Tools: clusters, identity, CAR, B-cell receptor state, clones, reconstitution, outcomes."""

from ._annotate import annotate
from ._bcr import bcr_state
from ._car import detect_car
from ._clones import clonotypes
from ._cluster import cluster
from ._composition import composition
from ._diversity import diversity
from ._outcomes import compare_outcomes
from ._predict import predict_outcome
from ._reconstitution import reconstitution
from ._tracking import track_clones

__all__ = [
    "annotate", "bcr_state", "clonotypes", "cluster", "compare_outcomes", "composition",
    "detect_car", "diversity", "predict_outcome", "reconstitution", "track_clones",
]
