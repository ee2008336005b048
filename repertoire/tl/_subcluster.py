"""The graphs and Leiden clusters that cell identity is called on.

Lineages are called on clusters of the cohort's neighbour graph (built here when the data have
none, or only the remains of a larger cohort's); each lineage is then sub-clustered on its own
genes, and sub-clusters whose cells disagree with their call are sub-clustered once more.
"""

from __future__ import annotations

import anndata
import numpy as np
import pandas as pd
import scipy.sparse as sp
from anndata import AnnData

from .. import _keys as K
from .. import pp
from .._logging import logger
from ._calls import Scores
from ._cluster import cluster

REFINE_AGREEMENT = 0.9  # a sub-cluster with less agreement is sub-clustered once more
MIN_CELLS = 30  # fewer cells in a lineage are not sub-clustered, but called cell by cell
N_TOP_GENES = 2000
N_COMPS = 50
# sub-clusters: the lineage's most variable genes joined with its panel genes, each scaled to
# unit variance so that lowly expressed markers weigh as much as abundant transcripts
SUB_TOP_GENES = 500
SUB_COMPS = 30
N_NEIGHBORS = 15


def lineage_clusters(
    adata: AnnData, matrix, names: pd.Index, groupby: str | None, resolution: float,
    batch_key: str | None, random_state: int,
) -> tuple[np.ndarray, sp.csr_matrix, str]:
    """Return the clusters that lineages are called on and the graph of per-cell smoothing.

    The third value says whether that graph was ``"given"`` or ``"computed"``.
    """
    if _complete_graph(adata):
        graph = adata.uns[K.NEIGHBORS]
        connectivities = adata.obsp[graph.get("connectivities_key", K.CONNECTIVITIES)]
        source, origin = adata, "given"
    else:
        source = _graph(adata, matrix, names, batch_key, random_state)
        connectivities, origin = source.obsp[K.CONNECTIVITIES], "computed"
    if groupby is not None:
        labels = adata.obs[groupby].astype(str)
    else:
        labels = cluster(source, resolutions=(resolution,), random_state=random_state,
                         inplace=False)[K.LEIDEN].astype(str)
    return labels.to_numpy(dtype=object), sp.csr_matrix(connectivities), origin


def _complete_graph(adata: AnnData) -> bool:
    """Whether ``.uns["neighbors"]`` holds a graph of these cells, not of a larger set.

    Subsetting an AnnData keeps only the edges between the cells kept: most cells of one
    sample cut from an integrated cohort lose most neighbours, and Leiden then returns
    clusters of single cells. Such a graph (median cell with fewer than half its neighbours)
    is rebuilt.
    """
    graph = adata.uns.get(K.NEIGHBORS)
    if graph is None:
        logger.info("no neighbour graph in .uns['%s']: building one for annotation", K.NEIGHBORS)
        return False
    distances = adata.obsp.get(graph.get("distances_key", K.DISTANCES))
    n_neighbors = graph.get("params", {}).get("n_neighbors")
    if distances is None or n_neighbors is None:
        return True
    kept = np.median(np.diff(sp.csr_matrix(distances).indptr))
    if kept >= (n_neighbors - 1) / 2:
        return True
    logger.info("the neighbour graph lost most edges (a subset of the cells it was built on): "
                "building one for annotation")
    return False


def _graph(adata: AnnData, matrix, names: pd.Index, batch_key: str | None,
           random_state: int) -> AnnData:
    """Return a light AnnData sharing ``matrix``, with highly variable genes, PCA and neighbours."""
    obs = pd.DataFrame(index=adata.obs_names)
    if batch_key is not None:
        obs[batch_key] = adata.obs[batch_key].to_numpy()
    shell = AnnData(X=matrix, obs=obs, var=pd.DataFrame(index=names))
    _embed(shell, batch_key, N_COMPS, random_state, extra=None)
    return shell


def _embed(shell: AnnData, batch_key: str | None, n_comps: int, random_state: int,
           extra: np.ndarray | None, n_top_genes: int = N_TOP_GENES, scale: bool = False) -> None:
    """Genes, principal components and neighbours of ``shell``, written into it."""
    pp.highly_variable_genes(shell, n_top_genes=min(n_top_genes, shell.n_vars),
                             batch_key=batch_key)
    if extra is not None:
        shell.var[K.HVG] = shell.var[K.HVG].to_numpy() | extra
    pp.pca(shell, n_comps=min(n_comps, shell.n_obs - 1), scale=scale, random_state=random_state)
    pp.neighbors(shell, n_neighbors=min(N_NEIGHBORS, shell.n_obs - 1),
                 random_state=random_state)


def gene_names(adata: AnnData, gene_symbols: str | None) -> pd.Index:
    """Upper-cased unique gene symbols, so that gene selection excludes MT- genes in any case."""
    symbols = adata.var_names if gene_symbols is None else adata.var[gene_symbols]
    return pd.Index(anndata.utils.make_index_unique(pd.Index(symbols).astype(str).str.upper()))


def subcluster(
    adata: AnnData, matrix, rows: np.ndarray, *, names: pd.Index, batch_key: str | None,
    extra: np.ndarray, resolution: float, random_state: int,
) -> tuple[np.ndarray, sp.csr_matrix]:
    """Leiden clusters of ``rows`` on their own genes, components and neighbour graph."""
    obs = pd.DataFrame(index=adata.obs_names[rows])
    if batch_key is not None:
        obs[batch_key] = adata.obs[batch_key].to_numpy()[rows]
    shell = AnnData(X=matrix[rows], obs=obs, var=pd.DataFrame(index=names))
    _embed(shell, batch_key, SUB_COMPS, random_state, extra=extra, n_top_genes=SUB_TOP_GENES,
           scale=True)
    labels = cluster(shell, resolutions=(resolution,), random_state=random_state,
                     inplace=False)[K.LEIDEN]
    return labels.astype(str).to_numpy(dtype=object), sp.csr_matrix(shell.obsp[K.CONNECTIVITIES])


def refine(
    adata: AnnData, matrix, rows: np.ndarray, labels: np.ndarray, graph: sp.csr_matrix,
    scores: Scores, embed: dict,
) -> np.ndarray:
    """Sub-cluster once more each sub-cluster whose cells disagree with its call."""
    cell_best, _ = scores.smoothed(labels, graph)
    refined = labels.copy()
    for name in pd.unique(labels):
        members = np.flatnonzero(labels == name)
        if len(members) < 2 * MIN_CELLS:
            continue
        if scores.group(members, cell_best)[3] >= REFINE_AGREEMENT:
            continue
        inner, _ = subcluster(adata, matrix, rows[members], **embed)
        refined[members] = [f"{name}.{label}" for label in inner]
    return refined
