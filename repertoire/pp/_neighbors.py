"""The k-nearest-neighbour graph of the cells."""

from __future__ import annotations

import pandas as pd
import scanpy as sc
import scipy.sparse as sp
from anndata import AnnData

from .. import _keys as K
from .._docs import doc_params
from .._errors import InputError

DISTANCES = "distances"
CONNECTIVITIES = "connectivities"


@doc_params
def neighbors(
    adata: AnnData,
    *,
    use_rep: str | None = None,
    n_neighbors: int = 15,
    metric: str = "euclidean",
    random_state: int = 0,
    inplace: bool = True,
) -> tuple[sp.csr_matrix, sp.csr_matrix] | None:
    """Build the k-nearest-neighbour graph on an embedding.

    Wraps :func:`scanpy.pp.neighbors` (UMAP connectivities; approximate neighbours with
    pynndescent above 4,096 cells). Only the embedding is handed to scanpy, so the expression
    matrix is never copied.

    Parameters
    ----------
    {adata}
    use_rep
        Embedding in ``.obsm``; by default ``"X_pca_harmony"`` when present, else ``"X_pca"``.
    n_neighbors
        Number of neighbours of each cell, itself included.
    metric
        Distance between cells.
    {random_state}
    {inplace}

    Returns
    -------
    With ``inplace=False``, the connectivities and the distances (sparse cells x cells).
    Otherwise ``None``; they go to ``.obsp["connectivities"]`` and ``.obsp["distances"]`` and
    ``.uns["neighbors"]`` records the parameters.
    """
    if use_rep is None:
        use_rep = K.INTEGRATED if K.INTEGRATED in adata.obsm else K.PCA
    if use_rep not in adata.obsm:
        raise InputError(f"embedding '{use_rep}' is not in .obsm; run repertoire.pp.pca first.")
    shell = AnnData(obs=pd.DataFrame(index=adata.obs_names), obsm={use_rep: adata.obsm[use_rep]})
    sc.pp.neighbors(shell, n_neighbors=n_neighbors, use_rep=use_rep, metric=metric,
                    random_state=random_state)
    connectivities = shell.obsp[CONNECTIVITIES]
    distances = shell.obsp[DISTANCES]
    if not inplace:
        return connectivities, distances
    adata.obsp[CONNECTIVITIES] = connectivities
    adata.obsp[DISTANCES] = distances
    adata.uns[K.NEIGHBORS] = shell.uns[K.NEIGHBORS]
    return None
