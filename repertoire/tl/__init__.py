"""Tools: clustering, embeddings, cell identity and CAR detection."""

from ._annotate import annotate
from ._car import detect_car
from ._cluster import cluster
from ._umap import umap

__all__ = ["annotate", "cluster", "detect_car", "umap"]
