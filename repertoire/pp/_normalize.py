"""Library-size normalisation and log transform."""

from __future__ import annotations

import numpy as np
import scanpy as sc
import scipy.sparse as sp
from anndata import AnnData

from .. import _keys as K
from .._docs import doc_params
from .._utils import require_layer, store


@doc_params
def normalize(
    adata: AnnData,
    *,
    layer: str | None = K.COUNTS,
    target_sum: float = 1e4,
    inplace: bool = True,
) -> sp.csr_matrix | np.ndarray | None:
    """Normalise each cell to ``target_sum`` counts and take ``log1p``.

    The result is a new matrix: the counts are never changed.

    Parameters
    ----------
    {adata}
    {counts_layer}
    target_sum
        Total counts of each cell after normalisation.
    {inplace}

    Returns
    -------
    With ``inplace=False``, the log-normalised matrix (sparse when the counts are). Otherwise
    ``None``; the matrix goes to ``.X`` and ``.uns["log1p"]`` records the natural logarithm, as
    :func:`scanpy.pp.log1p` does (``"base"``), beside ``"params"``.
    """
    require_layer(adata, layer)
    counts = adata.X if layer is None else adata.layers[layer]
    normalised = sc.pp.normalize_total(
        AnnData(X=counts), target_sum=target_sum, inplace=False
    )["X"]
    if sp.issparse(normalised):
        normalised = sp.csr_matrix(normalised)
        np.log1p(normalised.data, out=normalised.data)
    else:
        np.log1p(normalised, out=normalised)
    if inplace:
        adata.X = normalised
    return store(adata, K.LOG1P, params={"layer": layer, "target_sum": target_sum},
                 inplace=inplace, result=normalised, uns={"base": None})
