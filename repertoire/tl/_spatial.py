"""Spatial niches of bone-marrow sections.

Neighbourhood enrichment, cellular neighbourhoods and the distance of plasma cells to their
survival-niche senders.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Literal

import numpy as np
import pandas as pd
import scipy.sparse as sp
from anndata import AnnData

from .. import _keys as K
from .._docs import doc_params
from .._errors import InputError
from .._logging import logger, progress
from .._utils import batches, one_batch, require_obs, sample_metadata, store

# Plasma cells and the cells that feed their survival niche in the marrow: CXCL12/VCAM1 stroma,
# APRIL/IL-6 from monocytes, eosinophils and megakaryocytes (BIOLOGY.md; Rozanski et al.,
# J Exp Med 2011).
PLASMA_TYPES = ("plasma_LLPC", "plasmablast")
SENDER_TYPES = ("stroma", "monocyte", "monocyte_nonclassical", "eosinophil", "megakaryocyte")
# Schürch et al. (Cell 2020) describe each cell by the cell types of its 10 nearest cells and
# cluster those windows into cellular neighbourhoods (10 in their colorectal cancer atlas).
N_NEIGHBORS = 10
N_NICHES = 8
KMEANS_N_INIT = 10
# centres closer than about one cell diameter (plasma cells measure 10-20 um): the plasma cell
# touches its sender, as in the stromal and myeloid contacts of marrow plasma-cell niches
RADIUS = 15.0
# a neighbourhood is named after its most enriched cell types among those making at least this
# share of it
NAME_MIN_FRACTION = 0.02
NAME_MIN_ENRICHMENT = 1.25
NAME_TYPES = 3

Graph = Literal["auto", "spatial", "expression"]
SPATIAL_GRAPH, EXPRESSION_GRAPH = "spatial", "expression"


@doc_params
@one_batch("sample_key")
def spatial_niches(
    adata: AnnData,
    groupby: str = K.CELL_TYPE,
    *,
    sample_key: str = K.SAMPLE,
    spatial_key: str = K.SPATIAL,
    graph: Graph = "auto",
    n_neighbors: int = N_NEIGHBORS,
    n_niches: int = N_NICHES,
    plasma_types: Sequence[str] = PLASMA_TYPES,
    sender_types: Sequence[str] = SENDER_TYPES,
    radius: float = RADIUS,
    n_perms: int = 1000,
    random_state: int = 0,
    key_added: str = K.SPATIAL_NICHES,
    inplace: bool = True,
) -> dict[str, pd.DataFrame] | None:
    """Find the niches where plasma cells meet their survival senders, sample by sample.

    Every sample whose cells have finite coordinates in ``.obsm[spatial_key]`` (bone-marrow
    sections) is analysed on its own; cells without coordinates (blood samples) are skipped
    with one log line. Three views of the same question, as in squidpy (Palla et al.,
    Nat Methods 2022) and Schürch et al. (Cell 2020):

    1. **Neighbourhood enrichment** with :func:`squidpy.gr.nhood_enrichment` on each sample's
       k-nearest-neighbour graph (:func:`squidpy.gr.spatial_neighbors_knn`, ``n_neighbors``
       neighbours, the cell itself excluded), run on a light copy of the sample so ``adata`` is
       never written by squidpy: ``count`` is the number of edges from a ``source`` cell to a
       ``target`` neighbour, ``zscore`` compares it with ``n_perms`` permutations of the labels
       within the sample (squidpy's ``seed`` is ``random_state``).
    2. **Cellular neighbourhoods** (Schürch et al., Cell 2020): each cell's window is the
       ``groupby`` mix (fractions) of its ``n_neighbors`` nearest cells in its own sample (the
       same graph); windows of all samples are clustered together by k-means
       (:class:`sklearn.cluster.KMeans`, ``n_init=10``, seeded, one thread so the labels are
       the same on any machine) into ``n_niches`` cellular neighbourhoods, numbered
       ``CN1, CN2, ...`` from the most populous. Each is named after its up to three most
       enriched cell types (share of the neighbourhood over share of all cells at least 1.25,
       among types making at least 2% of it; more when two names would be the same).
    3. **Distance of each plasma cell to its nearest sender** (:class:`scipy.spatial.cKDTree`,
       in the units of the coordinates, um for the simulator). Per sample: the median distance
       and the fraction of plasma cells within ``radius``, against a reference in which the
       plasma labels are permuted ``n_perms`` times over the sample's non-sender cells
       (senders stay where they are: how close would as many cells placed like any other cell
       lie to these senders?). ``distance_ratio`` (observed over expected median) is the effect
       size and ``distance_zscore`` its standardised form; with few plasma cells the reference
       widens, so a small sample neither hides nor creates a niche. The one-sided
       ``distance_pvalue`` (closer than chance) treats the cells of one sample as exchangeable:
       it describes that sample, and outcomes are compared with one value per patient. A
       sample without plasma cell or without sender gets NaN and a ``reason``. Beside it,
       ``plasma_sender_zscore`` is squidpy's enrichment of edges from plasma cells (all
       ``plasma_types``) to senders (all ``sender_types``) on the same graph.

    Without any coordinate (``graph="auto"``), or with ``graph="expression"``, step 1 runs
    instead on each sample's block of the expression neighbour graph ``.obsp["connectivities"]``
    (:func:`repertoire.pp.preprocess`): cells that are neighbours in expression, not in space.
    Every table then says ``graph == "expression"``, the neighbourhood tables are empty and the
    distances NaN with the reason. Cells with a missing ``groupby`` label are left out.

    Parameters
    ----------
    {adata}
    groupby
        Column of ``.obs`` with each cell's type (``"true_cell_type"`` on simulated ground
        truth).
    sample_key
        Column of ``.obs`` naming each cell's sample; every sample is analysed on its own.
        Absent from ``.obs`` (one sample on its own), all cells are one sample, ``"all"``.
    spatial_key
        Key of ``.obsm`` holding the coordinates (the first two columns are used; NaN for cells
        without).
    graph
        ``"spatial"`` (coordinates), ``"expression"`` (``.obsp["connectivities"]``, enrichment
        only) or ``"auto"``: spatial wherever coordinates exist, else expression.
    n_neighbors
        Nearest cells of a cell's window and of the enrichment graph (Schürch et al. used 10;
        fewer in a sample with fewer cells).
    n_niches
        Number of cellular neighbourhoods (fewer when there are fewer distinct windows).
    plasma_types
        ``groupby`` values of plasma cells.
    sender_types
        ``groupby`` values of the plasma-cell survival senders (APRIL, BAFF, IL-6, CXCL12).
    radius
        Distance within which a plasma cell counts as next to a sender (coordinate units).
    n_perms
        Permutations of the enrichment z-scores and of the distance reference.
    {random_state}
    {key_added}
        ``.obs[f"{{key_added}}_neighbourhood"]`` holds each cell's neighbourhood and
        ``.obs[f"{{key_added}}_sender_distance"]`` each plasma cell's distance to its nearest
        sender.
    {inplace}

    Returns
    -------
    With ``inplace=False``, a dict of tables; otherwise ``None`` and the tables go to
    ``.uns[key_added]`` beside ``params`` (which records the graph used) and
    ``skipped_samples``, the cell columns to ``.obs``. Every table has a ``graph`` column
    (``"spatial"`` or ``"expression"``); per-sample tables carry the sample metadata.

    - ``pairs``: one row per sample, ``source`` and ``target`` cell type present in it:
      ``n_source``, ``n_target``, ``count``, ``zscore``.
    - ``neighbourhoods``: one row per cellular neighbourhood: ``neighbourhood``, ``name``,
      ``n_cells``, ``fraction`` (of all cells with coordinates), ``plasma_fraction``,
      ``sender_fraction`` and their enrichments over all cells.
    - ``compositions``: one row per neighbourhood and ``groupby`` value: mean window
      ``fraction`` and ``enrichment`` (over the share among all cells).
    - ``abundances``: one row per sample and neighbourhood: ``n_cells`` and ``fraction`` of
      the sample's cells.
    - ``samples``: one row per analysed sample: ``n_cells``, ``n_plasma``, ``n_senders``,
      ``plasma_sender_count``, ``plasma_sender_zscore``, ``median_distance``,
      ``expected_median_distance``, ``distance_ratio``, ``distance_zscore``,
      ``distance_pvalue``, ``fraction_within``, ``expected_fraction_within``, ``reason``.
    - ``cells`` (returned only): the two ``.obs`` columns.
    """
    require_obs(adata, groupby, sample_key)
    plasma_types, sender_types = tuple(plasma_types), tuple(sender_types)
    _check_arguments(graph, n_neighbors, n_niches, radius, n_perms, plasma_types, sender_types)
    obs = adata.obs
    labels = obs[groupby].astype("category").cat.remove_unused_categories()
    samples = batches(obs, sample_key)
    coords = _coordinates(adata, spatial_key)
    finite = np.isfinite(coords).all(axis=1) if coords is not None else np.zeros(len(obs), bool)
    route = _route(adata, graph, finite.any(), spatial_key)
    labelled = labels.notna().to_numpy()
    if (~labelled).any():
        logger.info("spatial_niches: %d cells without a '%s' label left out",
                    int((~labelled).sum()), groupby)
    usable = labelled & (finite if route == SPATIAL_GRAPH else True)
    analysed, skipped = [], []
    for sample in samples.cat.categories:
        (analysed if (usable & (samples == sample).to_numpy()).any() else skipped).append(sample)
    if skipped:
        logger.info("spatial_niches: %d sample%s without %s skipped: %s", len(skipped),
                    "" if len(skipped) == 1 else "s",
                    "coordinates" if route == SPATIAL_GRAPH else "labelled cells",
                    ", ".join(map(str, skipped)))
    names = tuple(str(c) for c in labels.cat.categories)
    plasma, sender = labels.isin(plasma_types).to_numpy(), labels.isin(sender_types).to_numpy()
    distance = np.full(len(obs), np.nan)
    pairs, rows, windows = [], [], []
    for sample in progress(analysed, desc="spatial niches"):
        cells = np.flatnonzero(usable & (samples == sample).to_numpy())
        sample_labels = pd.Categorical(labels.to_numpy()[cells], categories=labels.cat.categories)
        if route == SPATIAL_GRAPH:
            xy = coords[cells, :2]
            adjacency = _knn_graph(xy, n_neighbors)
            windows.append((cells, _windows(adjacency, sample_labels)))
            row, nearest = _sender_distances(
                xy, plasma[cells], sender[cells], radius, n_perms, random_state)
            distance[cells] = nearest
        else:
            adjacency = sp.csr_matrix(adata.obsp[K.CONNECTIVITIES][cells][:, cells])
            row = _no_distances(plasma[cells], sender[cells], "no coordinates: expression graph")
        counts = _enrichment(sample_labels, adjacency, groupby, n_perms, random_state)
        pairs.append(_pair_rows(str(sample), sample_labels, counts))
        row.update(_plasma_sender(plasma[cells], sender[cells], adjacency, groupby,
                                  len(names), n_perms, random_state))
        rows.append({sample_key: str(sample), "n_cells": len(cells), **row})
    tables, neighbourhood = _neighbourhood_tables(
        windows, labels, samples, names, groupby, sample_key, plasma_types, sender_types,
        n_niches, random_state)
    meta = sample_metadata(obs, sample_key)
    pair_table = pd.concat(pairs, ignore_index=True) if pairs else pd.DataFrame(
        columns=[sample_key, "source", "target", "n_source", "n_target", "count", "zscore"])
    sample_table = pd.DataFrame(rows, columns=[sample_key, "n_cells", *SAMPLE_COLUMNS])
    tables = {
        K.TABLE_PAIRS: _with_metadata(pair_table.rename(columns={"sample": sample_key}), meta,
                                      sample_key, route),
        K.TABLE_NEIGHBOURHOODS: _with_graph(tables[K.TABLE_NEIGHBOURHOODS], route),
        K.TABLE_COMPOSITIONS: _with_graph(tables[K.TABLE_COMPOSITIONS], route),
        K.TABLE_ABUNDANCES: _with_metadata(tables[K.TABLE_ABUNDANCES], meta, sample_key, route),
        K.TABLE_SAMPLES: _with_metadata(sample_table, meta, sample_key, route),
    }
    levels = list(tables[K.TABLE_NEIGHBOURHOODS]["neighbourhood"])
    cells_table = pd.DataFrame({
        f"{key_added}_neighbourhood": pd.Categorical(neighbourhood, categories=levels),
        f"{key_added}_sender_distance": distance,
    }, index=obs.index)
    _log_summary(tables[K.TABLE_SAMPLES], tables[K.TABLE_NEIGHBOURHOODS], route)
    return store(
        adata, key_added, inplace=inplace, result={**tables, "cells": cells_table},
        obs=cells_table, tables=tables, uns={"skipped_samples": [str(s) for s in skipped]},
        params={"groupby": groupby, "sample_key": sample_key, "spatial_key": spatial_key,
                "graph": route, "graph_requested": graph,
                **({"connectivity_key": K.CONNECTIVITIES} if route == EXPRESSION_GRAPH else {}),
                "n_neighbors": n_neighbors, "n_niches": n_niches,
                "plasma_types": list(plasma_types), "sender_types": list(sender_types),
                "radius": float(radius), "n_perms": n_perms, "random_state": random_state,
                "kmeans_n_init": KMEANS_N_INIT, "squidpy_version": _squidpy_version()},
    )


SAMPLE_COLUMNS = (
    "n_plasma", "n_senders", "plasma_sender_count", "plasma_sender_zscore", "median_distance",
    "expected_median_distance", "distance_ratio", "distance_zscore", "distance_pvalue",
    "fraction_within", "expected_fraction_within", "reason",
)


def _check_arguments(
    graph: str, n_neighbors: int, n_niches: int, radius: float, n_perms: int,
    plasma_types: tuple[str, ...], sender_types: tuple[str, ...],
) -> None:
    if graph not in ("auto", SPATIAL_GRAPH, EXPRESSION_GRAPH):
        raise InputError(f"graph must be 'auto', 'spatial' or 'expression' (got {graph!r}).")
    for name, value in (("n_neighbors", n_neighbors), ("n_niches", n_niches),
                        ("n_perms", n_perms)):
        if int(value) != value or value < 1:
            raise InputError(f"{name} must be a positive integer (got {value}).")
    if not radius > 0:
        raise InputError(f"radius must be positive (got {radius}).")
    shared = sorted(set(plasma_types) & set(sender_types))
    if shared:
        raise InputError(f"plasma_types and sender_types share '{shared[0]}'.")


def _coordinates(adata: AnnData, spatial_key: str) -> np.ndarray | None:
    if spatial_key not in adata.obsm:
        return None
    coords = np.asarray(adata.obsm[spatial_key], dtype=float)
    if coords.ndim != 2 or coords.shape[1] < 2:
        raise InputError(f".obsm['{spatial_key}'] must hold two coordinates per cell.")
    return coords


def _route(adata: AnnData, graph: str, has_coordinates: bool, spatial_key: str) -> str:
    if graph == SPATIAL_GRAPH or (graph == "auto" and has_coordinates):
        if not has_coordinates:
            raise InputError(f".obsm['{spatial_key}'] holds no finite coordinate.")
        return SPATIAL_GRAPH
    if K.CONNECTIVITIES not in adata.obsp:
        raise InputError(
            f".obsm['{spatial_key}'] holds no coordinates and .obsp['{K.CONNECTIVITIES}'] no "
            "expression graph; run repertoire.pp.preprocess first."
        )
    logger.info("spatial_niches: no coordinates used; enrichment on the expression graph "
                ".obsp['%s']", K.CONNECTIVITIES)
    return EXPRESSION_GRAPH


def _squidpy():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # docrep's SyntaxWarnings at import
        import squidpy as sq
    return sq


@contextmanager
def _quiet() -> Iterator[None]:
    """Silence squidpy's graph log (spatialdata's logger prints every call at INFO)."""
    chatty = logging.getLogger("spatialdata._logging")
    level = chatty.level
    chatty.setLevel(logging.WARNING)
    try:
        yield
    finally:
        chatty.setLevel(level)


def _squidpy_version() -> str:
    from importlib.metadata import version

    return version("squidpy")


def _knn_graph(xy: np.ndarray, n_neighbors: int) -> sp.csr_matrix:
    """Squidpy's k-nearest-neighbour graph of one sample (row: a cell, columns: its neighbours)."""
    sq = _squidpy()
    k = min(n_neighbors, len(xy) - 1)
    if k < 1:
        return sp.csr_matrix((len(xy), len(xy)))
    light = AnnData(obs=pd.DataFrame(index=np.arange(len(xy)).astype(str)), obsm={K.SPATIAL: xy})
    with _quiet():
        if hasattr(sq.gr, "spatial_neighbors_knn"):
            sq.gr.spatial_neighbors_knn(light, spatial_key=K.SPATIAL, n_neighs=k,
                                        key_added=K.SPATIAL)
        else:  # squidpy before 1.7
            sq.gr.spatial_neighbors(light, spatial_key=K.SPATIAL, coord_type="generic",
                                    n_neighs=k, delaunay=False, key_added=K.SPATIAL)
    return sp.csr_matrix(light.obsp[f"{K.SPATIAL}_connectivities"])


def _plasma_sender(
    plasma: np.ndarray, sender: np.ndarray, adjacency: sp.csr_matrix, groupby: str,
    n_categories: int, n_perms: int, random_state: int,
) -> dict[str, float]:
    """Squidpy's enrichment of plasma cells (any plasma type) next to senders (any sender type).

    The three kinds are padded with unused categories to as many as the cell types, so numba
    compiles squidpy's counting function once; unused categories change no permutation.
    """
    kinds = np.where(plasma, "plasma", np.where(sender, "sender", "other"))
    levels = ["plasma", "sender", "other"]
    levels += [f"unused_{i}" for i in range(max(n_categories - len(levels), 0))]
    result = _enrichment(pd.Categorical(kinds, categories=levels), adjacency, groupby, n_perms,
                         random_state)
    if result is None or not plasma.any() or not sender.any():
        return {"plasma_sender_count": np.nan, "plasma_sender_zscore": np.nan}
    return {"plasma_sender_count": float(result[1][0, 1]),
            "plasma_sender_zscore": float(result[0][0, 1])}


def _enrichment(
    labels: pd.Categorical, adjacency: sp.csr_matrix, groupby: str, n_perms: int,
    random_state: int,
) -> tuple[np.ndarray, np.ndarray] | None:
    """Squidpy's ``(zscore, count)`` matrices over all categories (NaN for absent ones)."""
    if len(labels.categories) < 2 or adjacency.nnz == 0:
        return None
    sq = _squidpy()
    light = AnnData(obs=pd.DataFrame({groupby: labels}, index=np.arange(len(labels)).astype(str)),
                    obsp={"graph_connectivities": adjacency})
    with warnings.catch_warnings(), np.errstate(divide="ignore", invalid="ignore"), _quiet():
        warnings.simplefilter("ignore", RuntimeWarning)
        result = sq.gr.nhood_enrichment(
            light, cluster_key=groupby, connectivity_key="graph", n_perms=n_perms,
            seed=random_state, copy=True, n_jobs=1, show_progress_bar=False)
    return np.asarray(result.zscore, dtype=float), np.asarray(result.counts)


def _pair_rows(
    sample: str, labels: pd.Categorical, result: tuple[np.ndarray, np.ndarray] | None
) -> pd.DataFrame:
    """Tidy rows of one sample's enrichment: every ordered pair of types present in it."""
    sizes = pd.Series(labels).value_counts().reindex(labels.categories, fill_value=0).to_numpy()
    present = np.flatnonzero(sizes > 0)
    source, target = np.meshgrid(present, present, indexing="ij")
    source, target = source.ravel(), target.ravel()
    names = np.asarray(labels.categories.astype(str), dtype=object)
    zscore = result[0][source, target] if result else np.full(len(source), np.nan)
    count = result[1][source, target] if result else np.zeros(len(source))
    return pd.DataFrame({
        "sample": sample, "source": names[source], "target": names[target],
        "n_source": sizes[source], "n_target": sizes[target],
        "count": count.astype(np.int64), "zscore": zscore.astype(float),
    })


def _windows(adjacency: sp.csr_matrix, labels: pd.Categorical) -> np.ndarray:
    """Each cell's neighbours' type fractions (rows of the graph, the cell itself excluded)."""
    onehot = sp.csr_matrix(
        (np.ones(len(labels)), (np.arange(len(labels)), labels.codes)),
        shape=(len(labels), len(labels.categories)),
    )
    binary = adjacency.copy()
    binary.data = np.ones_like(binary.data)
    binary = sp.csr_matrix(binary - sp.diags(binary.diagonal()))  # never the cell itself
    binary.eliminate_zeros()
    counts = np.asarray((binary @ onehot).todense(), dtype=float)
    totals = counts.sum(axis=1, keepdims=True)
    return np.divide(counts, totals, out=np.zeros_like(counts), where=totals > 0)


def _no_distances(plasma: np.ndarray, sender: np.ndarray, reason: str) -> dict[str, object]:
    row: dict[str, object] = dict.fromkeys(SAMPLE_COLUMNS, np.nan)
    row.update(n_plasma=int(plasma.sum()), n_senders=int(sender.sum()), reason=reason)
    return row


def _sender_distances(
    xy: np.ndarray, plasma: np.ndarray, sender: np.ndarray, radius: float, n_perms: int,
    random_state: int,
) -> tuple[dict[str, object], np.ndarray]:
    """Return a sample's distance statistics and each plasma cell's distance to its nearest sender.

    Cells other than plasma cells get NaN.
    """
    from scipy.spatial import cKDTree

    nearest = np.full(len(xy), np.nan)
    if not plasma.any() or not sender.any():
        reason = "no plasma cell" if not plasma.any() else "no sender cell"
        return _no_distances(plasma, sender, reason), nearest
    candidates = np.flatnonzero(~sender)  # where a plasma cell could lie: any non-sender cell
    to_sender = cKDTree(xy[sender]).query(xy[candidates], k=1)[0]
    nearest[candidates] = to_sender
    nearest[~plasma] = np.nan
    observed = nearest[plasma]
    n = len(observed)
    rng = np.random.default_rng(random_state)
    medians, within = np.empty(n_perms), np.empty(n_perms)
    for index in range(n_perms):
        draw = to_sender[rng.choice(len(candidates), size=n, replace=False, shuffle=False)]
        medians[index] = np.median(draw)
        within[index] = np.mean(draw <= radius)
    median = float(np.median(observed))
    expected = float(medians.mean())
    spread = float(medians.std())
    row = _no_distances(plasma, sender, "")
    row.update(
        median_distance=median, expected_median_distance=expected,
        distance_ratio=median / expected if expected > 0 else np.nan,
        distance_zscore=(median - expected) / spread if spread > 0 else np.nan,
        distance_pvalue=float((1 + np.sum(medians <= median)) / (n_perms + 1)),
        fraction_within=float(np.mean(observed <= radius)),
        expected_fraction_within=float(within.mean()), reason=None,
    )
    return row, nearest


def _neighbourhood_tables(
    windows: list[tuple[np.ndarray, np.ndarray]], labels: pd.Series, samples: pd.Series,
    names: tuple[str, ...], groupby: str, sample_key: str, plasma_types: tuple[str, ...],
    sender_types: tuple[str, ...], n_niches: int, random_state: int,
) -> tuple[dict[str, pd.DataFrame], pd.Series]:
    """Cluster every cell's window into cellular neighbourhoods.

    Returns the tables and each cell's neighbourhood (NaN for cells without a window).
    """
    from sklearn.cluster import KMeans
    from threadpoolctl import threadpool_limits

    empty = {
        K.TABLE_NEIGHBOURHOODS: pd.DataFrame(columns=[
            "neighbourhood", "name", "n_cells", "fraction", "plasma_fraction", "sender_fraction",
            "plasma_enrichment", "sender_enrichment"]),
        K.TABLE_COMPOSITIONS: pd.DataFrame(
            columns=["neighbourhood", groupby, "fraction", "enrichment"]),
        K.TABLE_ABUNDANCES: pd.DataFrame(
            columns=[sample_key, "neighbourhood", "n_cells", "fraction"]),
    }
    neighbourhood = pd.Series(np.nan, index=labels.index, dtype=object)
    if not windows:
        return empty, neighbourhood
    cells = np.concatenate([c for c, _ in windows])
    matrix = np.vstack([w for _, w in windows])
    n_clusters = min(n_niches, len(np.unique(matrix, axis=0)))
    if n_clusters < n_niches:
        logger.info("spatial_niches: %d distinct windows, so %d neighbourhoods", n_clusters,
                    n_clusters)
    kmeans = KMeans(n_clusters=n_clusters, n_init=KMEANS_N_INIT, random_state=random_state)
    with threadpool_limits(1):  # one thread: same labels on any machine, no oversubscription
        raw = kmeans.fit_predict(matrix)
    sizes = np.bincount(raw, minlength=n_clusters)
    order = sorted(range(n_clusters), key=lambda c: (-sizes[c], c))  # CN1 the most populous
    rank = np.empty(n_clusters, dtype=int)
    rank[order] = np.arange(n_clusters)
    levels = [f"CN{i + 1}" for i in range(n_clusters)]
    assigned = np.asarray(levels, dtype=object)[rank[raw]]
    neighbourhood.iloc[cells] = assigned

    mean = pd.DataFrame(matrix, columns=list(names)).groupby(assigned).mean().reindex(levels)
    overall = labels.iloc[cells].value_counts(normalize=True).reindex(list(names), fill_value=0)
    enrichment = mean.div(overall.replace(0, np.nan), axis=1)
    plasma_cols = [t for t in plasma_types if t in names]
    sender_cols = [t for t in sender_types if t in names]
    counts = pd.Series(assigned).value_counts().reindex(levels, fill_value=0)

    neighbourhoods = pd.DataFrame({
        "neighbourhood": levels,
        "name": _names(mean, enrichment),
        "n_cells": counts.to_numpy(), "fraction": counts.to_numpy() / len(cells),
        "plasma_fraction": mean[plasma_cols].sum(axis=1).to_numpy(),
        "sender_fraction": mean[sender_cols].sum(axis=1).to_numpy(),
    })
    for kind, columns in (("plasma", plasma_cols), ("sender", sender_cols)):
        base = float(overall[columns].sum())
        neighbourhoods[f"{kind}_enrichment"] = (
            neighbourhoods[f"{kind}_fraction"] / base if base > 0 else np.nan)
    compositions = mean.rename_axis("neighbourhood").reset_index().melt(
        id_vars="neighbourhood", var_name=groupby, value_name="fraction")
    compositions["enrichment"] = enrichment.rename_axis("neighbourhood").reset_index().melt(
        id_vars="neighbourhood", value_name="enrichment")["enrichment"].to_numpy()
    sample_of = samples.iloc[cells].astype(str).to_numpy()
    grid = pd.crosstab(pd.Categorical(sample_of, categories=pd.unique(sample_of)),
                       pd.Categorical(assigned, categories=levels), dropna=False)
    abundances = grid.stack(future_stack=True).rename("n_cells").reset_index()
    abundances.columns = [sample_key, "neighbourhood", "n_cells"]
    abundances[sample_key] = abundances[sample_key].astype(str)
    abundances["neighbourhood"] = abundances["neighbourhood"].astype(str)
    abundances["fraction"] = abundances["n_cells"] / abundances.groupby(sample_key)[
        "n_cells"].transform("sum")
    tables = {K.TABLE_NEIGHBOURHOODS: neighbourhoods, K.TABLE_COMPOSITIONS: compositions,
              K.TABLE_ABUNDANCES: abundances}
    return tables, neighbourhood


def _names(mean: pd.DataFrame, enrichment: pd.DataFrame) -> list[str]:
    """Name each neighbourhood after its most enriched cell types making at least 2% of it.

    Up to three types enriched at least 1.25-fold; neighbourhoods that would share a name take
    their next most enriched types (at most five) until the names differ.
    """
    ranked = []
    for level in mean.index:
        common = enrichment.loc[level][mean.loc[level] >= NAME_MIN_FRACTION].dropna()
        ranked.append(common.sort_values(ascending=False, kind="stable"))
    sizes = [min(max(int((r >= NAME_MIN_ENRICHMENT).sum()), 1), NAME_TYPES) for r in ranked]
    for _ in range(2):
        names = [", ".join(r.index[:n]) or "mixed" for r, n in zip(ranked, sizes, strict=True)]
        shared = pd.Series(names).duplicated(keep=False).to_numpy()
        sizes = [n + 1 if twin else n for n, twin in zip(sizes, shared, strict=True)]
    return [", ".join(r.index[:n]) or "mixed" for r, n in zip(ranked, sizes, strict=True)]


def _with_graph(table: pd.DataFrame, route: str) -> pd.DataFrame:
    table = table.copy()
    table.insert(0, "graph", route)
    return table.reset_index(drop=True)


def _with_metadata(
    table: pd.DataFrame, meta: pd.DataFrame, sample_key: str, route: str
) -> pd.DataFrame:
    """``sample_key``, ``graph``, the sample metadata, then the table's own columns."""
    own = [c for c in table.columns if c != sample_key]
    merged = table.merge(meta, on=sample_key, how="left", validate="many_to_one")
    merged.insert(1, "graph", route)
    extra = [c for c in meta.columns if c != sample_key]
    return merged[[sample_key, "graph", *extra, *own]].reset_index(drop=True)


def _log_summary(samples: pd.DataFrame, neighbourhoods: pd.DataFrame, route: str) -> None:
    measured = samples["distance_ratio"].notna().sum() if len(samples) else 0
    logger.info(
        "spatial_niches (%s graph): %d samples, %d with plasma-to-sender distances, "
        "%d cellular neighbourhoods", route, len(samples), int(measured), len(neighbourhoods))
