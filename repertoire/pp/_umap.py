"""The UMAP embedding of the neighbour graph.

It lives here, not in ``tl``, so that :func:`repertoire.pp.preprocess` can run it without
importing from ``tl`` (data flow io -> pp -> tl); ``repertoire.tl.umap`` is this function.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import scanpy as sc
from anndata import AnnData

from .. import _keys as K
from .._docs import doc_params
from .._errors import InputError

UMAP_UNS = "umap"


@doc_params
def umap(
    adata: AnnData,
    *,
    min_dist: float = 0.5,
    spread: float = 1.0,
    n_components: int = 2,
    random_state: int = 0,
    inplace: bool = True,
) -> np.ndarray | None:
    """Embed the neighbour graph in two dimensions with UMAP (McInnes et al., 2018).

    Wraps :func:`scanpy.tl.umap` on the graph of :func:`repertoire.pp.neighbors`.

    Parameters
    ----------
    {adata}
    min_dist
        Minimum distance between embedded points.
    spread
        Scale of the embedded points.
    n_components
        Number of dimensions.
    {random_state}
    {inplace}

    Returns
    -------
    With ``inplace=False``, the cells x ``n_components`` coordinates. Otherwise ``None``;
    they go to ``.obsm["X_umap"]`` and ``.uns["umap"]["params"]`` records the arguments.
    """
    graph = adata.uns.get(K.NEIGHBORS)
    if graph is None:
        raise InputError(
            f"'{K.NEIGHBORS}' is not in .uns; run repertoire.pp.neighbors first."
        )
    # scanpy reads the embedding only to count connected components for the initialisation
    rep = graph["params"].get("use_rep") or K.PCA
    shell = AnnData(
        obs=pd.DataFrame(index=adata.obs_names),
        obsm={rep: adata.obsm[rep]} if rep in adata.obsm else {},
        obsp={graph[k]: adata.obsp[graph[k]] for k in ("connectivities_key", "distances_key")},
        uns={K.NEIGHBORS: graph},
    )
    sc.tl.umap(shell, min_dist=min_dist, spread=spread, n_components=n_components,
               random_state=random_state)
    coordinates = shell.obsm[K.UMAP]
    if not inplace:
        return coordinates
    adata.obsm[K.UMAP] = coordinates
    adata.uns[UMAP_UNS] = {
        "params": {**shell.uns[UMAP_UNS]["params"], "random_state": random_state,
                   "min_dist": min_dist, "spread": spread, "n_components": n_components},
    }
    return None
