"""Preprocessing: quality control, doublets, normalisation, genes, PCA, integration, graph."""

from .._lazy import attach as _attach

__getattr__, __dir__, __all__ = _attach(__name__, {
    "_doublets": ("detect_doublets", "receptor_doublets"),
    "_hvg": ("highly_variable_genes",),
    "_integrate": ("integrate",),
    "_metrics": ("qc_metrics",),
    "_neighbors": ("neighbors",),
    "_normalize": ("normalize",),
    "_outliers": ("flag_low_quality",),
    "_pca": ("pca",),
    "_pipeline": ("preprocess",),
    "_qc": ("filter_cells", "qc"),
    "_umap": ("umap",),
})
