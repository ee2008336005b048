"""The k-nearest-neighbour graph of the cells."""

from __future__ import annotations

import pandas as pd
import scanpy as sc
import scipy.sparse as sp
from anndata import AnnData

from .. import _keys as K
from .._docs import doc_params
from .._errors import InputError
from .._utils import store

#: up to this many cells the neighbours are found exactly (scikit-learn, brute force): on two
#: cores that takes 10 s for 50,000 cells, while pynndescent's first call in a process spends
#: about 90 s compiling before it starts
EXACT_NEIGHBORS_MAX_CELLS = 50_000


@doc_params
def neighbors(
    adata: AnnData,
    *,
    use_rep: str | None = None,
    n_neighbors: int = 15,
    metric: str = "euclidean",
    transformer: str | None = None,
    random_state: int = 0,
    key_added: str = K.NEIGHBORS,
    inplace: bool = True,
) -> tuple[sp.csr_matrix, sp.csr_matrix] | None:
    """Build the k-nearest-neighbour graph on an embedding.

    Wraps :func:`scanpy.pp.neighbors` (UMAP connectivities). Only the embedding is handed to
    scanpy, so the expression matrix is never copied.

    Parameters
    ----------
    {adata}
    use_rep
        Embedding in ``.obsm``; by default ``"X_pca_harmony"`` when present, else ``"X_pca"``.
    n_neighbors
        Number of neighbours of each cell, itself included.
    metric
        Distance between cells.
    transformer
        How the neighbours are found, as in scanpy: ``"sklearn"`` exactly (brute force),
        ``"pynndescent"`` approximately. By default exactly up to
        ``EXACT_NEIGHBORS_MAX_CELLS`` (50,000) cells, where exact search is faster than
        pynndescent's compilation, and approximately above.
    {random_state}
    key_added
        As in scanpy: ``.uns[key_added]`` names the graph's ``.obsp`` keys and holds
        ``"params"``; the default ``"neighbors"`` writes ``.obsp["connectivities"]`` and
        ``.obsp["distances"]``, any other key ``f"{{key_added}}_connectivities"`` and
        ``f"{{key_added}}_distances"``.
    {inplace}

    Returns
    -------
    With ``inplace=False``, the connectivities and the distances (sparse cells x cells).
    Otherwise ``None``; they go to ``.obsp`` and ``.uns[key_added]`` (see ``key_added``).
    """
    if use_rep is None:
        use_rep = K.INTEGRATED if K.INTEGRATED in adata.obsm else K.PCA
    if use_rep not in adata.obsm:
        raise InputError(f"embedding '{use_rep}' is not in .obsm; run repertoire.pp.pca first.")
    if transformer is None:
        transformer = "sklearn" if adata.n_obs <= EXACT_NEIGHBORS_MAX_CELLS else "pynndescent"
    shell = AnnData(obs=pd.DataFrame(index=adata.obs_names), obsm={use_rep: adata.obsm[use_rep]})
    sc.pp.neighbors(shell, n_neighbors=n_neighbors, use_rep=use_rep, metric=metric,
                    transformer=transformer, random_state=random_state)
    connectivities = shell.obsp[K.CONNECTIVITIES]
    distances = shell.obsp[K.DISTANCES]
    prefix = "" if key_added == K.NEIGHBORS else f"{key_added}_"
    keys = {"connectivities_key": f"{prefix}{K.CONNECTIVITIES}",
            "distances_key": f"{prefix}{K.DISTANCES}"}
    return store(
        adata, key_added, inplace=inplace, result=(connectivities, distances),
        obsp={keys["connectivities_key"]: connectivities, keys["distances_key"]: distances},
        uns=keys, params={**shell.uns[K.NEIGHBORS][K.PARAMS], "transformer": transformer},
    )
