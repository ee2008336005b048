"""Tools: clusters, identity, CAR, B-cell state, clones, reconstitution, niches, outcomes."""

from ._annotate import annotate
from ._bcr import bcr_state
from ._car import detect_car
from ._clones import clonotypes
from ._cluster import cluster
from ._communication import communication
from ._composition import composition
from ._diversity import diversity
from ._niche_outcomes import niche_outcomes
from ._niches import niche_scores
from ._outcomes import compare_outcomes
from ._predict import predict_outcome
from ._programmes import communication_programmes
from ._reconstitution import reconstitution
from ._spatial import spatial_niches
from ._tracking import track_clones

__all__ = [
    "annotate", "bcr_state", "clonotypes", "cluster", "communication", "communication_programmes",
    "compare_outcomes", "composition", "detect_car", "diversity", "niche_outcomes", "niche_scores",
    "predict_outcome", "reconstitution", "spatial_niches", "track_clones",
]
