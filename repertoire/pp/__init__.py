"""Preprocessing: quality control, doublets, normalisation, genes, PCA, integration, graph."""

from ._doublets import detect_doublets, receptor_doublets
from ._hvg import highly_variable_genes
from ._integrate import integrate
from ._metrics import qc_metrics
from ._neighbors import neighbors
from ._normalize import normalize
from ._outliers import flag_low_quality
from ._pca import pca
from ._pipeline import preprocess
from ._qc import filter_cells, qc
from ._umap import umap

__all__ = [
    "detect_doublets",
    "filter_cells",
    "flag_low_quality",
    "highly_variable_genes",
    "integrate",
    "neighbors",
    "normalize",
    "pca",
    "preprocess",
    "qc",
    "qc_metrics",
    "receptor_doublets",
    "umap",
]
