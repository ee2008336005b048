"""Tools: clustering, embeddings, cell identity, composition and CAR detection."""

from ._annotate import annotate
from ._car import detect_car
from ._cluster import cluster
from ._composition import composition
from ._umap import umap

__all__ = ["annotate", "cluster", "composition", "detect_car", "umap"]
