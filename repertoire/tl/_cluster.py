"""Leiden clustering of the neighbour graph at one or more resolutions."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import scanpy as sc
from anndata import AnnData

from .. import _keys as K
from .._docs import doc_params
from .._errors import InputError
from .._logging import logger
from .._utils import store


@doc_params
def cluster(
    adata: AnnData,
    *,
    resolutions: Sequence[float] = (1.0,),
    neighbors_key: str = K.NEIGHBORS,
    key_added: str = K.LEIDEN,
    n_iterations: int = -1,
    random_state: int = 0,
    inplace: bool = True,
) -> pd.DataFrame | None:
    """Cluster cells with the Leiden algorithm (Traag et al., Sci Rep 2019).

    Runs :func:`scanpy.tl.leiden` with igraph's implementation on the graph of
    :func:`repertoire.pp.neighbors`, once per resolution. Clusters are numbered by size,
    largest first.

    Parameters
    ----------
    {adata}
    resolutions
        Resolutions of the modularity; higher values give more clusters.
    neighbors_key
        Key in ``.uns`` of the graph (see ``key_added`` of :func:`repertoire.pp.neighbors`).
    {key_added}
        Each resolution ``r`` gives ``.obs[f"{{key_added}}_r{{r}}"]``; ``.obs[key_added]`` holds
        the first.
    n_iterations
        Rounds of the Leiden algorithm; negative runs it until the partition is stable.
    {random_state}
    {inplace}

    Returns
    -------
    With ``inplace=False``, one categorical column per resolution (``leiden_r1.0``, ...) and
    ``leiden``, the first. Otherwise ``None``; the columns go to ``.obs`` and
    ``.uns["leiden"]`` holds ``n_clusters`` (one per resolution) and ``params``.
    """
    if not resolutions:
        raise InputError("resolutions is empty; give at least one resolution.")
    graph = adata.uns.get(neighbors_key)
    if graph is None:
        raise InputError(f"'{neighbors_key}' is not in .uns; run repertoire.pp.neighbors first.")
    # graphs written by scanpy before 1.5 name no key: theirs is always "connectivities"
    adjacency = adata.obsp[graph.get("connectivities_key", K.CONNECTIVITIES)]
    shell = AnnData(obs=pd.DataFrame(index=adata.obs_names))
    columns = {}
    for resolution in resolutions:
        name = f"{key_added}_r{float(resolution)}"
        sc.tl.leiden(shell, resolution=resolution, adjacency=adjacency, flavor="igraph",
                     n_iterations=n_iterations, directed=False, random_state=random_state,
                     key_added=name)
        columns[name] = _numbered_by_size(shell.obs[name])
        logger.info("Leiden at resolution %s: %d clusters", resolution,
                    len(columns[name].cat.categories))
    table = pd.DataFrame(columns, index=adata.obs_names)
    table[key_added] = table.iloc[:, 0]
    return store(
        adata, key_added, inplace=inplace, result=table, obs=table,
        uns={"n_clusters": [len(table[name].cat.categories) for name in columns]},
        params={"resolutions": [float(r) for r in resolutions], "keys": list(columns),
                "neighbors_key": neighbors_key, "flavor": "igraph",
                "n_iterations": n_iterations, "random_state": random_state},
    )


def _numbered_by_size(labels: pd.Series) -> pd.Series:
    """Rename clusters ``0, 1, ...`` from the largest to the smallest (ties keep their order)."""
    sizes = labels.value_counts(sort=False)
    order = sizes.index[np.argsort(-sizes.to_numpy(), kind="stable")]
    names = {old: str(new) for new, old in enumerate(order)}
    renamed = labels.map(names).astype(str)
    return pd.Series(pd.Categorical(renamed, categories=[str(i) for i in range(len(order))]),
                     index=labels.index, name=labels.name)
