"""The UMAP embedding of the neighbour graph, the last step of preprocessing.

Here rather than in ``tl`` (scanpy's place) because :func:`repertoire.pp.preprocess` runs it
and data flow io -> pp -> tl.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import scanpy as sc
from anndata import AnnData

from .. import _keys as K
from .._docs import doc_params
from .._errors import InputError
from .._utils import store


@doc_params
def umap(
    adata: AnnData,
    *,
    min_dist: float = 0.5,
    spread: float = 1.0,
    n_components: int = 2,
    random_state: int = 0,
    neighbors_key: str = K.NEIGHBORS,
    key_added: str = K.UMAP,
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
    neighbors_key
        Key in ``.uns`` of the graph (see ``key_added`` of :func:`repertoire.pp.neighbors`).
    key_added
        The coordinates go to ``.obsm[key_added]``; the record to ``.uns["umap"]`` for the
        default ``"X_umap"``, else to ``.uns[key_added]`` (scanpy's rule).
    {inplace}

    Returns
    -------
    With ``inplace=False``, the cells x ``n_components`` coordinates. Otherwise ``None``;
    they go to ``.obsm[key_added]`` and ``.uns["umap"]["params"]`` records the arguments.
    """
    graph = adata.uns.get(neighbors_key)
    if graph is None:
        raise InputError(
            f"'{neighbors_key}' is not in .uns; run repertoire.pp.neighbors first."
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
    return store(
        adata, K.UMAP_UNS if key_added == K.UMAP else key_added, inplace=inplace,
        result=coordinates, obsm={key_added: coordinates},
        params={**shell.uns[K.UMAP_UNS][K.PARAMS], "random_state": random_state,
                "min_dist": min_dist, "spread": spread, "n_components": n_components,
                "neighbors_key": neighbors_key},
    )
