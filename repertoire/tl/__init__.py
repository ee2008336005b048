"""Tools: clustering and embeddings."""

from ._cluster import cluster
from ._umap import umap

__all__ = ["cluster", "umap"]
