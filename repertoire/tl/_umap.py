"""UMAP, implemented in ``pp`` so that :func:`repertoire.pp.preprocess` can run it."""

from ..pp._umap import umap

__all__ = ["umap"]
