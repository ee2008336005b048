"""The k-nearest-neighbour graph of the cells and its UMAP connectivities."""

from __future__ import annotations

import numpy as np
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
#: the constants of umap-learn's ``smooth_knn_dist``: tolerance and steps of the binary search
#: for each cell's kernel width, and the smallest width relative to the mean distance
SMOOTH_K_TOLERANCE = 1e-5
SMOOTH_K_STEPS = 64
MIN_K_DIST_SCALE = 1e-3
FLOAT32_MAX = np.finfo(np.float32).max


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

    The graph of :func:`scanpy.pp.neighbors` (UMAP connectivities, McInnes et al., 2018): the
    neighbours are searched as scanpy searches them, and the connectivities, umap-learn's fuzzy
    simplicial set, are computed here for all cells at once with numpy, which gives scanpy's
    values without umap-learn's compilation (about 40 s in every new process).

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
    if transformer not in ("sklearn", "pynndescent"):
        raise InputError(f"transformer {transformer!r} is neither 'sklearn' nor 'pynndescent'.")
    if adata.n_obs < 2:
        raise InputError(f"a neighbour graph needs at least 2 cells, not {adata.n_obs}.")
    if n_neighbors < 2:
        raise InputError(f"n_neighbors {n_neighbors} counts the cell itself: give at least 2.")
    knn_indices, knn_distances, distances = knn(
        np.asarray(adata.obsm[use_rep]), n_neighbors, metric=metric, transformer=transformer,
        random_state=random_state,
    )
    connectivities = umap_connectivities(knn_indices, knn_distances, n_neighbors=n_neighbors)
    prefix = "" if key_added == K.NEIGHBORS else f"{key_added}_"
    keys = {"connectivities_key": f"{prefix}{K.CONNECTIVITIES}",
            "distances_key": f"{prefix}{K.DISTANCES}"}
    return store(
        adata, key_added, inplace=inplace, result=(connectivities, distances),
        obsp={keys["connectivities_key"]: connectivities, keys["distances_key"]: distances},
        uns=keys,
        # scanpy's record (pp.umap reads it), and how the neighbours were found
        params={"n_neighbors": n_neighbors, "method": "umap", "random_state": random_state,
                "metric": metric, "use_rep": use_rep, "transformer": transformer},
    )


def knn(
    x: np.ndarray,
    n_neighbors: int,
    *,
    metric: str = "euclidean",
    transformer: str = "sklearn",
    random_state: int = 0,
) -> tuple[np.ndarray, np.ndarray, sp.csr_matrix]:
    """Find each cell's nearest neighbours as :func:`scanpy.pp.neighbors` finds them.

    The same search (scikit-learn's brute-force ``KNeighborsTransformer`` or pynndescent's
    ``PyNNDescentTransformer``, with scanpy's arguments) and the same reading of
    its graph, so that the neighbours, their order and the distances are scanpy's.

    Parameters
    ----------
    x
        Cells x dimensions.
    n_neighbors
        Neighbours of each cell, itself included.
    metric
        Distance between cells.
    transformer
        ``"sklearn"`` (exact) or ``"pynndescent"`` (approximate).
    random_state
        Seed of pynndescent.

    Returns
    -------
    The indices and distances of each cell's neighbours (cells x ``n_neighbors``, the cell
    itself first, nearest first), and the sparse distances without the cell itself, as
    scanpy stores them in ``.obsp["distances"]``.
    """
    import scanpy as sc

    n_obs = x.shape[0]
    if transformer == "sklearn":
        from sklearn.neighbors import KNeighborsTransformer

        search = KNeighborsTransformer(
            algorithm="brute", n_jobs=sc.settings.n_jobs,
            n_neighbors=min(n_obs - 1, n_neighbors), metric=metric, metric_params={},
        )
    else:
        from pynndescent import PyNNDescentTransformer

        # scanpy gives pynndescent no thread count when it is named (its results depend on it)
        search = PyNNDescentTransformer(
            n_neighbors=n_neighbors, metric=metric, metric_kwds={}, random_state=random_state,
        )
    graph = search.fit_transform(x)
    indices, distances = _graph_neighbors(graph, n_neighbors)
    if transformer == "sklearn":
        # scanpy zeroes the graph's diagonal, which its neighbour distances share: a cell's
        # distance to itself is 0, not the rounding error of the search
        distances = np.where(indices == np.arange(n_obs)[:, None], 0, distances)
        rows = np.arange(0, n_obs * (indices.shape[1] - 1) + 1, indices.shape[1] - 1)
        graph = sp.csr_matrix(
            (distances[:, 1:].ravel(), indices[:, 1:].ravel(), rows), shape=(n_obs, n_obs)
        )
    return indices, distances, graph


def _graph_neighbors(graph: sp.csr_matrix, n_neighbors: int) -> tuple[np.ndarray, np.ndarray]:
    """Neighbour indices and distances of a search's sparse graph, read as scanpy reads them.

    Rows of equal length are taken in their stored order. Otherwise each row's non-zero
    entries follow the cell itself, the nearest ``n_neighbors - 1`` by distance where there
    are more. The cell itself comes first (added where the search left it out) and at most
    ``n_neighbors`` columns are kept.
    """
    n_obs = graph.shape[0]
    lengths = np.diff(graph.indptr)
    if lengths.size and (lengths == lengths[0]).all():
        indices = graph.indices.reshape(n_obs, lengths[0])
        distances = graph.data.reshape(n_obs, lengths[0])
    else:
        indices = np.zeros((n_obs, n_neighbors), dtype=int)
        distances = np.zeros((n_obs, n_neighbors), dtype=graph.dtype)
        for i in range(n_obs):
            row = graph[i]
            found, values = row.indices[row.data != 0], row.data[row.data != 0]
            if len(found) < n_neighbors - 1:
                raise InputError(f"cell {i} has {len(found)} neighbours, fewer than "
                                 f"{n_neighbors - 1}; lower n_neighbors.")
            order = (np.argsort(values)[: n_neighbors - 1] if len(found) > n_neighbors - 1
                     else slice(None))
            indices[i, 0] = i
            indices[i, 1:], distances[i, 1:] = found[order], values[order]
    if not (indices[:, 0] == np.arange(n_obs)).any():
        indices = np.hstack([np.arange(n_obs)[:, None], indices])
        distances = np.hstack([np.zeros((n_obs, 1)), distances])
    return indices[:, :n_neighbors], distances[:, :n_neighbors]


def umap_connectivities(
    knn_indices: np.ndarray, knn_distances: np.ndarray, *, n_neighbors: int
) -> sp.csr_matrix:
    """UMAP's fuzzy simplicial set of a k-nearest-neighbour graph, for all cells at once.

    umap-learn's ``fuzzy_simplicial_set`` as :func:`scanpy.pp.neighbors` calls it (local
    connectivity 1, bandwidth 1, fuzzy union): each cell's distance to its nearest neighbour
    (``rho``) and the kernel width (``sigma``) at which its memberships sum to
    ``log2(n_neighbors)`` (``smooth_knn_dist``: a binary search of at most 64 steps to a
    tolerance of 1e-5, run here for every cell together; the width never falls below 1e-3
    of the mean distance), the membership ``exp(-(d - rho) / sigma)`` of each neighbour, and
    the fuzzy union ``A + A.T - A * A.T``. Arithmetic is float32 in umap-learn's order, with
    exponentials rounded from float64, so the values agree with umap-learn's to float32
    rounding.

    Parameters
    ----------
    knn_indices
        Cells x neighbours: indices of each cell's neighbours, the cell itself first, nearest
        first; ``-1`` marks a neighbour not found.
    knn_distances
        The distances to them.
    n_neighbors
        The neighbourhood size the memberships are calibrated to (``k`` of ``log2(k)``).

    Returns
    -------
    The symmetric connectivities (float32, cells x cells).
    """
    n_obs = knn_indices.shape[0]
    dists = np.asarray(knn_distances, dtype=np.float32)
    sigmas, rhos = _smooth_knn_dist(dists, float(n_neighbors))
    # memberships (umap's compute_membership_strengths)
    with np.errstate(divide="ignore", invalid="ignore"):  # sigma 0: replaced below
        shifted = (dists - rhos[:, None]) / sigmas[:, None]
    strengths = _exp32(-shifted)
    strengths[(dists - rhos[:, None] <= 0) | (sigmas[:, None] == 0)] = 1.0
    strengths[knn_indices == np.arange(n_obs)[:, None]] = 0.0
    missing = knn_indices == -1
    strengths[missing] = 0.0
    rows = np.where(missing, 0, np.arange(n_obs)[:, None]).astype(np.int32)
    cols = np.where(missing, 0, knn_indices).astype(np.int32)
    # the fuzzy union, with umap's sparse operations
    graph = sp.coo_matrix((strengths.ravel(), (rows.ravel(), cols.ravel())), shape=(n_obs, n_obs))
    graph.eliminate_zeros()
    transpose = graph.transpose()
    product = graph.multiply(transpose)
    union = graph + transpose - product
    union.eliminate_zeros()
    return sp.csr_matrix(union)


def _smooth_knn_dist(distances: np.ndarray, k: float) -> tuple[np.ndarray, np.ndarray]:
    """umap-learn's ``smooth_knn_dist`` (local connectivity 1, bandwidth 1) for every row."""
    n_obs = distances.shape[0]
    target = np.log2(k)
    # rho: each row's first positive distance (the rows are sorted)
    positive = distances > 0
    first = positive.argmax(axis=1)
    rhos = np.where(positive.any(axis=1), distances[np.arange(n_obs), first], 0).astype(
        np.float32
    )
    # the binary search of each row's width, in float32 as umap-learn runs it; a row leaves
    # the search when its memberships sum to the target within the tolerance
    lo = np.zeros(n_obs, dtype=np.float32)
    hi = np.full(n_obs, FLOAT32_MAX, dtype=np.float32)
    mid = np.ones(n_obs, dtype=np.float32)
    active = np.arange(n_obs)
    shifted = distances[:, 1:] - rhos[:, None]
    for _ in range(SMOOTH_K_STEPS):
        if not active.size:
            break
        d, m = shifted[active], mid[active]
        terms = np.where(d > 0, _exp32(-(d / m[:, None])), np.float32(1.0))
        # sequential float32 sums, as umap-learn's loop adds the terms
        psum = np.cumsum(terms, axis=1, dtype=np.float32)[:, -1].astype(np.float64)
        searching = np.abs(psum - target) >= SMOOTH_K_TOLERANCE
        active, psum, m = active[searching], psum[searching], m[searching]
        above = psum > target
        hi[active[above]] = m[above]
        lo[active[~above]] = m[~above]
        unbounded = ~above & (hi[active] >= FLOAT32_MAX)
        with np.errstate(over="ignore"):  # lo + hi of unbounded rows, not used
            halfway = (lo[active] + hi[active]) / np.float32(2)
        mid[active] = np.where(unbounded, m * np.float32(2), halfway)
    sigmas = mid
    # the smallest width: a share of the row's mean distance, or of all rows' for a row
    # without a positive distance (umap-learn's means add float32 in order)
    row_means = _mean32(np.cumsum(distances, axis=1, dtype=np.float32)[:, -1], distances.shape[1])
    all_mean = _mean32(np.cumsum(distances.ravel(), dtype=np.float32)[-1:], distances.size)
    floor = MIN_K_DIST_SCALE * np.where(rhos > 0, row_means, all_mean)
    return np.where(sigmas < floor, floor, sigmas).astype(np.float32), rhos


def _mean32(sums: np.ndarray, n: int) -> np.ndarray:
    """Return the float32 mean numba takes of float32 sums: divided in float64, rounded."""
    return (sums.astype(np.float64) / n).astype(np.float32).astype(np.float64)


def _exp32(x: np.ndarray) -> np.ndarray:
    """``exp`` of float32 values rounded from float64, as C's ``expf`` rounds (nearly always).

    Values that overflow become ``inf`` quietly: the callers replace them.
    """
    with np.errstate(over="ignore"):
        return np.exp(x.astype(np.float64)).astype(np.float32)
