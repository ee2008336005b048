"""Cell identity: lineage by cluster, then the subset within each lineage by sub-cluster.

The orchestration: panels are matched to the genes (:mod:`._panels`), clusters and sub-clusters
made (:mod:`._subcluster`), called (:mod:`._calls`), and memory B cells settled by their own
isotype (:mod:`._isotype_rule`).
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping

import numpy as np
import pandas as pd
import scipy.sparse as sp
from anndata import AnnData

from .. import _keys as K
from .._docs import doc_params
from .._logging import logger
from .._utils import cohort_key, gene_index, require_layer, require_obs, store
from ..resources import marker_panels
from ._calls import UNASSIGNED, Calls, Scores, call_clusters
from ._isotype_rule import memory_isotypes
from ._panels import Panel, PanelSet, zscore
from ._subcluster import MIN_CELLS, gene_names, lineage_clusters, refine, subcluster


@doc_params
def annotate(
    adata: AnnData,
    *,
    layer: str | None = None,
    markers: Mapping | str | os.PathLike | None = None,
    gene_symbols: str | None = None,
    groupby: str | None = None,
    resolution: float = 1.0,
    subcluster_resolution: float = 1.0,
    batch_key: str | None = K.SAMPLE,
    min_coverage: float = 0.5,
    min_score: float = 0.2,
    isotype_margin: float | None = 1.0,
    key_added: str = K.ANNOTATION,
    random_state: int = 0,
    inplace: bool = True,
) -> tuple[pd.DataFrame, pd.DataFrame] | None:
    """Name each cell's lineage and cell type from marker panels, cluster by cluster.

    Marker genes are standardised (z-scores) within the data, and a panel's score is the
    mean signed z-score of its genes (negative markers count against it), so no absolute
    expression level is assumed. Decisions are made per cluster:

    1. Lineage. Clusters of the neighbour graph (:func:`repertoire.tl.cluster`; the graph is
       built with :mod:`repertoire.pp` when ``.uns["neighbors"]`` is absent) are scored on the
       lineage panels and on the cell-type panels marked ``lineage_level``; a cluster takes the
       lineage of its best panel, or ``other``/``unassigned`` when no panel reaches
       ``min_score``.
    2. Cell type. Each lineage's cells are sub-clustered on their own 500 most variable genes
       joined with the lineage's panel genes (scaled to unit variance, so that lowly expressed
       markers count), 30 principal components, neighbours and Leiden clusters; each
       sub-cluster takes its best cell-type panel, with z-scores taken within the lineage.
       A lineage whose cell types are all ``lineage_level`` (``other``: megakaryocytes,
       stroma, erythroid cells, progenitors) gathers distinct lineages rather than subsets
       of one, so its z-scores are taken over all cells, as at the lineage step; within it
       the majority type would set the mean and lose to background reads of the others.

    Each cell's scores are also averaged over its neighbours within its cluster. A cluster
    in which fewer than 90% of the cells prefer the cluster's label is clustered once more on
    its own cells (at both levels; not for clusters given by ``groupby``); one in which fewer
    than 75% do is mixed, and its cells take their own labels. A cell's confidence is
    ``1 - exp(-margin / 0.5)`` for the margin of its label's neighbour-averaged score over the
    best other label (zero when another label wins), times the mean share of the two panels'
    genes present in the data, and in a mixed cluster times the share of the cluster's cells
    given the same label; the cell-type confidence is at most the lineage confidence.

    Panel genes are matched case-insensitively. Genes absent from the data lower the
    confidence and are listed in one warning; panels with less than ``min_coverage`` of their
    genes are not used, so a lineage whose markers are missing is ``other``/``unassigned``
    rather than a confident wrong call, and a lineage whose subset panels are missing keeps
    its cells ``unassigned``.

    Parameters
    ----------
    {adata}
        With log-normalised expression (see :func:`repertoire.pp.normalize`).
    {layer}
    markers
        Marker panels: ``None`` for the shipped ones, or a mapping or YAML file as described
        in :func:`repertoire.resources.marker_panels`.
    gene_symbols
        Column of ``.var`` holding gene symbols (for example when ``.var_names`` are Ensembl
        identifiers); ``None`` uses ``.var_names``.
    groupby
        Column of ``.obs`` with clusters to call lineages on; ``None`` clusters the neighbour
        graph at ``resolution``.
    resolution
        Leiden resolution of the lineage clusters.
    subcluster_resolution
        Leiden resolution of the sub-clusters within each lineage.
    batch_key
        Column of ``.obs`` over which sub-cluster genes are selected sample by sample
        (see :func:`repertoire.pp.highly_variable_genes`); ``None``, or ``sample_id`` absent
        from ``.obs`` (one sample on its own), selects over all cells.
    min_coverage
        Smallest share of a panel's genes that must be in the data for the panel to be used.
    min_score
        Smallest lineage score (mean z-score) of a cluster's best panel; below it the cluster
        is ``other``/``unassigned``.
    isotype_margin
        A B cell expresses one heavy-chain constant region, among the most abundant transcripts
        of a B cell, so each memory B cell's own transcripts settle switched against unswitched:
        a cell called ``B_memory_unswitched`` or ``B_memory_switched`` whose strongest switched
        constant gene (IGHG1-4, IGHA1-2, IGHE) leads its strongest IGHM/IGHD by at least this
        much log-expression (or trails it by as much) takes the switched (unswitched) label,
        whatever its sub-cluster's. ``None`` keeps the sub-cluster labels.
    {key_added}
    {random_state}
    {inplace}

    Returns
    -------
    With ``inplace=False``, the per-cell table (``lineage``, ``cell_type``,
    ``lineage_confidence``, ``cell_type_confidence``, ``annotation_cluster``,
    ``annotation_subcluster``) and the table of calls. Otherwise ``None``; the per-cell
    columns go to ``.obs`` (``lineage`` in B, plasma, T, NK, myeloid, other) and
    ``.uns[key_added]`` holds ``"clusters"``, one row per cluster and sub-cluster (``level``,
    ``lineage``, ``cluster``, ``n_cells``, ``label``, ``score``, ``runner_up``,
    ``runner_up_score``, ``margin``, ``confidence``, ``coverage``, ``mixed``,
    ``top_genes``, ``missing_genes``), ``"missing_genes"`` (one row per panel feature not
    found) and ``"params"``.
    """
    require_layer(adata, layer)
    if groupby is not None:
        require_obs(adata, groupby)
    batch_key = cohort_key(adata.obs, batch_key)
    panels = marker_panels(markers)
    matrix = adata.X if layer is None else adata.layers[layer]
    index = gene_index(adata, gene_symbols)
    lineage_set = PanelSet.match(_lineage_panels(panels), index)
    type_set = PanelSet.match(_cell_type_panels(panels), index)
    missing = _missing_table(lineage_set, type_set)
    _warn_missing(missing, lineage_set, type_set, min_coverage, gene_symbols)

    names = gene_names(adata, gene_symbols)
    clusters, graph, origin = lineage_clusters(adata, matrix, names, groupby, resolution,
                                               batch_key, random_state)
    scores = Scores.compute(zscore(lineage_set.values(matrix)), lineage_set, level=K.LINEAGE,
                            min_coverage=min_coverage)
    if groupby is None and scores.labels:
        embed = {"names": names, "batch_key": batch_key, "extra": scores.genes(matrix.shape[1]),
                 "resolution": resolution, "random_state": random_state}
        clusters = refine(adata, matrix, np.arange(adata.n_obs), clusters, graph, scores,
                          embed)
    lineage_calls = call_clusters(scores, clusters, graph, level=K.LINEAGE, lineage="",
                                  min_score=min_score)
    cells = pd.DataFrame({
        K.LINEAGE: lineage_calls.labels, K.CELL_TYPE: UNASSIGNED,
        K.LINEAGE_CONFIDENCE: lineage_calls.confidence, K.CELL_TYPE_CONFIDENCE: 0.0,
        f"{key_added}_cluster": clusters, f"{key_added}_subcluster": clusters,
    }, index=adata.obs_names)
    tables = [lineage_calls.table]
    distinct = _distinct_lineages(panels)
    for lineage in K.LINEAGES:
        rows = np.flatnonzero(cells[K.LINEAGE].to_numpy() == lineage)
        subsets = [i for i, p in enumerate(type_set.panels) if p.lineage == lineage]
        if not len(rows) or not subsets:
            continue
        calls, subclusters = _call_subsets(
            adata, matrix, rows, type_set, subsets, lineage, names=names, batch_key=batch_key,
            resolution=subcluster_resolution, min_coverage=min_coverage,
            against_all=lineage in distinct, random_state=random_state,
        )
        cells.iloc[rows, cells.columns.get_loc(K.CELL_TYPE)] = calls.labels
        cells.iloc[rows, cells.columns.get_loc(K.CELL_TYPE_CONFIDENCE)] = np.minimum(
            calls.confidence, cells[K.LINEAGE_CONFIDENCE].to_numpy()[rows]
        )
        cells.iloc[rows, cells.columns.get_loc(f"{key_added}_subcluster")] = subclusters
        tables.append(calls.table)
    if isotype_margin is not None:
        memory_isotypes(cells, matrix, index, isotype_margin)
    unassigned = cells[K.LINEAGE].to_numpy() == UNASSIGNED
    cells.loc[unassigned, K.LINEAGE] = "other"
    cells.loc[unassigned, [K.LINEAGE_CONFIDENCE, K.CELL_TYPE_CONFIDENCE]] = 0.0
    cells = _categorical(cells, type_set, key_added)
    table = pd.concat(tables, ignore_index=True)
    logger.info("annotated %d cells: %s", len(cells), ", ".join(
        f"{name} {n}" for name, n in cells[K.LINEAGE].value_counts(sort=False).items()
    ))
    return store(
        adata, key_added, inplace=inplace, result=(cells, table), obs=cells,
        tables={K.TABLE_CLUSTERS: table, K.TABLE_MISSING_GENES: missing},
        params={"layer": layer, "markers": panels, "gene_symbols": gene_symbols,
                "groupby": groupby, "resolution": resolution,
                "subcluster_resolution": subcluster_resolution, "batch_key": batch_key,
                "min_coverage": min_coverage, "min_score": min_score,
                "isotype_margin": isotype_margin, "graph": origin,
                "random_state": random_state},
    )


# panels ---------------------------------------------------------------------------------------


def _lineage_panels(panels: dict) -> list[Panel]:
    lineages = [
        Panel(name, name, tuple(p["positive"]), tuple(p["negative"]))
        for name, p in panels["lineages"].items()
    ]
    distinct = [
        Panel(name, p["lineage"], tuple(p["positive"]), tuple(p["negative"]))
        for name, p in panels["cell_types"].items() if p["lineage_level"]
    ]
    return lineages + distinct


def _distinct_lineages(panels: dict) -> set[str]:
    """Lineages all of whose cell types are ``lineage_level``."""
    kinds: dict[str, set[bool]] = {}
    for p in panels["cell_types"].values():
        kinds.setdefault(p["lineage"], set()).add(p["lineage_level"])
    return {lineage for lineage, levels in kinds.items() if levels == {True}}


def _cell_type_panels(panels: dict) -> list[Panel]:
    return [
        Panel(name, p["lineage"], tuple(p["positive"]), tuple(p["negative"]))
        for name, p in panels["cell_types"].items()
    ]


def _missing_table(*sets: PanelSet) -> pd.DataFrame:
    """One row per panel feature not found in the data."""
    rows = [
        (panel.name, panel.lineage, feature, float(coverage))
        for panel_set in sets
        for panel, features, coverage in zip(
            panel_set.panels, panel_set.missing, panel_set.coverage, strict=True
        )
        for feature in features
    ]
    table = pd.DataFrame(rows, columns=["panel", "lineage", "feature", "coverage"])
    return table.drop_duplicates(["panel", "feature"], ignore_index=True)


def _warn_missing(missing: pd.DataFrame, lineage_set: PanelSet, type_set: PanelSet,
                  min_coverage: float, gene_symbols: str | None) -> None:
    if missing.empty:
        return
    features = list(dict.fromkeys(missing["feature"]))
    total = len({*lineage_set.features, *type_set.features})
    unused = [
        p.name for s in (lineage_set, type_set) for p, c in zip(s.panels, s.coverage, strict=True)
        if c < min_coverage
    ]
    where = ".var_names" if gene_symbols is None else f".var['{gene_symbols}']"
    message = (
        f"{len(features)} of {total} marker genes are not in {where} (matched "
        f"case-insensitively); confidence is lowered accordingly. Missing: "
        + "; ".join(f"{panel}: {', '.join(group['feature'])}"
                    for panel, group in missing.groupby("panel", sort=False))
        + "."
    )
    if unused:
        message += (f" Panels with less than {min_coverage:.0%} of their genes are not used: "
                    f"{', '.join(dict.fromkeys(unused))}.")
    warnings.warn(message, UserWarning, stacklevel=3)



def _call_subsets(adata: AnnData, matrix, rows: np.ndarray, type_set: PanelSet,
                  subsets: list[int], lineage: str, *, names: pd.Index,
                  batch_key: str | None, resolution: float, min_coverage: float,
                  against_all: bool, random_state: int) -> tuple[Calls, np.ndarray]:
    """Sub-cluster one lineage's cells and call the cell type of each sub-cluster.

    Panel z-scores are taken within the lineage's cells, or over all cells when
    ``against_all``.
    """
    panel_set = PanelSet(
        tuple(type_set.panels[i] for i in subsets), type_set.features, type_set.columns,
        type_set.weights[:, subsets], type_set.coverage[subsets],
        tuple(type_set.missing[i] for i in subsets),
    )
    z = (zscore(panel_set.values(matrix))[rows] if against_all
         else zscore(panel_set.values(matrix[rows])))
    scores = Scores.compute(z, panel_set, level=K.CELL_TYPE, min_coverage=min_coverage)
    if len(scores.labels) > 1 and len(rows) >= MIN_CELLS:
        embed = {"names": names, "batch_key": batch_key,
                 "extra": scores.genes(matrix.shape[1]), "resolution": resolution,
                 "random_state": random_state}
        labels, graph = subcluster(adata, matrix, rows, **embed)
        labels = refine(adata, matrix, rows, labels, graph, scores, embed)
    else:
        labels = np.zeros(len(rows), dtype=int).astype(str).astype(object)
        graph = sp.csr_matrix((len(rows), len(rows)))
    subclusters = np.array([f"{lineage}.{label}" for label in labels], dtype=object)
    calls = call_clusters(scores, subclusters, graph, level=K.CELL_TYPE, lineage=lineage,
                  min_score=None)
    return calls, subclusters



def _categorical(cells: pd.DataFrame, type_set: PanelSet, key_added: str) -> pd.DataFrame:
    cells[K.LINEAGE] = pd.Categorical(cells[K.LINEAGE], categories=list(K.LINEAGES))
    types = [p.name for p in type_set.panels]
    present = set(cells[K.CELL_TYPE])
    categories = types + ([UNASSIGNED] if UNASSIGNED in present else [])
    cells[K.CELL_TYPE] = pd.Categorical(cells[K.CELL_TYPE], categories=categories)
    for column in (f"{key_added}_cluster", f"{key_added}_subcluster"):
        cells[column] = pd.Categorical(cells[column])
    for column in (K.LINEAGE_CONFIDENCE, K.CELL_TYPE_CONFIDENCE):
        cells[column] = cells[column].astype(float)
    return cells
