"""Cell identity: lineage by cluster, then the subset within each lineage by sub-cluster."""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping
from dataclasses import dataclass

import anndata
import numpy as np
import pandas as pd
import scipy.sparse as sp
from anndata import AnnData

from .. import _keys as K
from .. import pp
from .._docs import doc_params
from .._logging import logger
from ..pp._neighbors import CONNECTIVITIES, DISTANCES
from ..pp._utils import record, require_layer, require_obs
from ..resources import marker_panels
from ._cluster import cluster
from ._panels import Panel, PanelSet, gene_index, zscore

UNASSIGNED = "unassigned"
CONFIDENCE_SCALE = 0.5  # a margin of this many z-units gives a confidence of 1 - 1/e
MIN_AGREEMENT = 0.75  # a cluster with fewer cells preferring its label is called cell by cell
REFINE_AGREEMENT = 0.9  # a sub-cluster with less agreement is sub-clustered once more
MIN_CELLS = 30  # fewer cells in a lineage are not sub-clustered, but called cell by cell
N_TOP_GENES = 2000
N_COMPS = 50
# sub-clusters: the lineage's most variable genes joined with its panel genes, each scaled to
# unit variance so that lowly expressed markers weigh as much as abundant transcripts
SUB_TOP_GENES = 500
SUB_COMPS = 30
N_NEIGHBORS = 15
TOP_GENES = 5


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
        (see :func:`repertoire.pp.highly_variable_genes`); ``None`` selects over all cells.
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
    ``.uns[key_added]`` holds ``"markers"``, one row per cluster and sub-cluster (``level``,
    ``lineage``, ``cluster``, ``n_cells``, ``label``, ``score``, ``runner_up``,
    ``runner_up_score``, ``margin``, ``confidence``, ``coverage``, ``mixed``,
    ``top_genes``, ``missing_genes``), ``"missing_genes"`` (one row per panel feature not
    found) and ``"params"``.
    """
    require_layer(adata, layer)
    if groupby is not None:
        require_obs(adata, groupby)
    if batch_key is not None:
        require_obs(adata, batch_key)
    panels = marker_panels(markers)
    matrix = adata.X if layer is None else adata.layers[layer]
    index = gene_index(adata, gene_symbols)
    lineage_set = PanelSet.match(_lineage_panels(panels), index)
    type_set = PanelSet.match(_cell_type_panels(panels), index)
    missing = _missing_table(lineage_set, type_set)
    _warn_missing(missing, lineage_set, type_set, min_coverage, gene_symbols)

    names = _gene_names(adata, gene_symbols)
    clusters, graph, origin = _clusters(adata, matrix, names, groupby, resolution, batch_key,
                                        random_state)
    scores = Scores.compute(zscore(lineage_set.values(matrix)), lineage_set, level=K.LINEAGE,
                            min_coverage=min_coverage)
    if groupby is None and scores.labels:
        embed = {"names": names, "batch_key": batch_key, "extra": scores.genes(matrix.shape[1]),
                 "resolution": resolution, "random_state": random_state}
        clusters = _refine(adata, matrix, np.arange(adata.n_obs), clusters, graph, scores,
                           embed)
    lineage_calls = _call(scores, clusters, graph, level=K.LINEAGE, lineage="",
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
        _memory_isotypes(cells, matrix, index, isotype_margin)
    unassigned = cells[K.LINEAGE].to_numpy() == UNASSIGNED
    cells.loc[unassigned, K.LINEAGE] = "other"
    cells.loc[unassigned, [K.LINEAGE_CONFIDENCE, K.CELL_TYPE_CONFIDENCE]] = 0.0
    cells = _categorical(cells, type_set, key_added)
    table = pd.concat(tables, ignore_index=True)
    logger.info("annotated %d cells: %s", len(cells), ", ".join(
        f"{name} {n}" for name, n in cells[K.LINEAGE].value_counts(sort=False).items()
    ))
    if not inplace:
        return cells, table
    for column in cells.columns:
        adata.obs[column] = cells[column]
    adata.uns[key_added] = {
        "markers": table,
        "missing_genes": missing,
        "params": record(
            layer=layer, markers=panels, gene_symbols=gene_symbols, groupby=groupby,
            resolution=resolution, subcluster_resolution=subcluster_resolution,
            batch_key=batch_key, min_coverage=min_coverage, min_score=min_score,
            isotype_margin=isotype_margin,
            graph=origin,
            random_state=random_state,
        ),
    }
    return None


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


# clusters -------------------------------------------------------------------------------------


def _clusters(adata: AnnData, matrix, names: pd.Index, groupby: str | None, resolution: float,
              batch_key: str | None,
              random_state: int) -> tuple[np.ndarray, sp.csr_matrix, str]:
    """The clusters that lineages are called on, the graph that smooths per-cell scores, and
    whether that graph was ``"given"`` or ``"computed"``."""
    if _complete_graph(adata):
        graph = adata.uns[K.NEIGHBORS]
        connectivities = adata.obsp[graph.get("connectivities_key", CONNECTIVITIES)]
        source, origin = adata, "given"
    else:
        source = _graph(adata, matrix, names, batch_key, random_state)
        connectivities, origin = source.obsp[CONNECTIVITIES], "computed"
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
    distances = adata.obsp.get(graph.get("distances_key", DISTANCES))
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
    """A light AnnData sharing ``matrix``, with highly variable genes, PCA and neighbours."""
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


def _gene_names(adata: AnnData, gene_symbols: str | None) -> pd.Index:
    """Upper-cased unique gene symbols, so that gene selection excludes MT- genes in any case."""
    symbols = adata.var_names if gene_symbols is None else adata.var[gene_symbols]
    return pd.Index(anndata.utils.make_index_unique(pd.Index(symbols).astype(str).str.upper()))


# memory B cells by their own isotype -----------------------------------------------------------


SWITCHED_CONSTANT = ("IGHG1", "IGHG2", "IGHG3", "IGHG4", "IGHA1", "IGHA2", "IGHE")
UNSWITCHED_CONSTANT = ("IGHM", "IGHD")
MEMORY_BY_ISOTYPE = {"switched": "B_memory_switched", "unswitched": "B_memory_unswitched"}
ISOTYPE_CONFIDENCE_SCALE = 2.0  # a lead of this much log-expression gives 1 - 1/e


def _memory_isotypes(cells: pd.DataFrame, matrix, index: dict[str, int], margin: float) -> None:
    """Relabel memory B cells by their dominant heavy-chain constant transcripts, in place."""
    labels = cells[K.CELL_TYPE].to_numpy(dtype=object)
    rows = np.flatnonzero(np.isin(labels, list(MEMORY_BY_ISOTYPE.values())))
    switched = [index[g] for g in SWITCHED_CONSTANT if g in index]
    unswitched = [index[g] for g in UNSWITCHED_CONSTANT if g in index]
    if not len(rows) or not switched or not unswitched:
        return
    lead = _row_max(matrix[rows][:, switched]) - _row_max(matrix[rows][:, unswitched])
    decided = np.where(lead >= margin, MEMORY_BY_ISOTYPE["switched"],
                       np.where(lead <= -margin, MEMORY_BY_ISOTYPE["unswitched"], None))
    changed = rows[(decided != None) & (decided != labels[rows])]  # noqa: E711
    if not len(changed):
        return
    positions = np.searchsorted(rows, changed)
    cells.iloc[changed, cells.columns.get_loc(K.CELL_TYPE)] = decided[positions]
    confidence = 1.0 - np.exp(-np.abs(lead[positions]) / ISOTYPE_CONFIDENCE_SCALE)
    cells.iloc[changed, cells.columns.get_loc(K.CELL_TYPE_CONFIDENCE)] = np.minimum(
        confidence, cells[K.LINEAGE_CONFIDENCE].to_numpy()[changed]
    )
    logger.info("%d memory B cells relabelled by their own heavy-chain constant transcripts",
                len(changed))


def _row_max(block) -> np.ndarray:
    block = block.toarray() if sp.issparse(block) else np.asarray(block)
    return block.max(axis=1).astype(float)


# calls ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Calls:
    """Labels and confidences of cells, and the table of the calls behind them."""

    labels: np.ndarray
    confidence: np.ndarray
    table: pd.DataFrame


@dataclass(frozen=True)
class Scores:
    """Per-cell scores of the usable panels of one level, and the label each panel votes for."""

    panel_set: PanelSet
    z: np.ndarray  # cells x features
    usable: np.ndarray  # panels with enough of their genes
    label_of: np.ndarray  # label of each usable panel
    labels: list[str]
    cells: np.ndarray  # cells x usable panels

    @classmethod
    def compute(cls, z: np.ndarray, panel_set: PanelSet, *, level: str,
                min_coverage: float) -> Scores:
        """Score every cell on the panels that have at least ``min_coverage`` of their genes."""
        usable = np.flatnonzero(panel_set.coverage >= min_coverage)
        label_of = np.array([p.lineage if level == K.LINEAGE else p.name
                             for p in panel_set.panels], dtype=object)[usable]
        return cls(panel_set, z, usable, label_of, list(dict.fromkeys(label_of)),
                   z @ panel_set.weights[:, usable])

    def genes(self, n_vars: int) -> np.ndarray:
        """Mask of the matrix columns that the usable panels read."""
        mask = np.zeros(n_vars, dtype=bool)
        used = np.flatnonzero(self.panel_set.weights[:, self.usable].any(axis=1))
        mask[[c for i in used for c in self.panel_set.columns[i]]] = True
        return mask

    def smoothed(self, clusters: np.ndarray, graph: sp.csr_matrix) -> tuple[np.ndarray, ...]:
        """Per cell and label, the best panel score averaged over the cell's neighbours."""
        return _collapse(_smooth(graph, clusters) @ self.cells, self.label_of, self.labels)

    def group(self, members: np.ndarray, cell_best: np.ndarray) -> tuple:
        """A group's label scores (best first), best panels, and its cells' agreement."""
        label_scores, best_panel = _collapse(self.cells[members].mean(axis=0)[None, :],
                                             self.label_of, self.labels)
        order = np.argsort(-label_scores[0], kind="stable")
        agreement = float(np.mean(cell_best[members].argmax(axis=1) == order[0]))
        return label_scores[0], best_panel[0], order, agreement


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
        labels, graph = _subcluster(adata, matrix, rows, **embed)
        labels = _refine(adata, matrix, rows, labels, graph, scores, embed)
    else:
        labels = np.zeros(len(rows), dtype=int).astype(str).astype(object)
        graph = sp.csr_matrix((len(rows), len(rows)))
    subclusters = np.array([f"{lineage}.{label}" for label in labels], dtype=object)
    calls = _call(scores, subclusters, graph, level=K.CELL_TYPE, lineage=lineage,
                  min_score=None)
    return calls, subclusters


def _subcluster(adata: AnnData, matrix, rows: np.ndarray, *, names: pd.Index,
                batch_key: str | None,
                extra: np.ndarray, resolution: float,
                random_state: int) -> tuple[np.ndarray, sp.csr_matrix]:
    """Leiden clusters of ``rows`` on their own genes, components and neighbour graph."""
    obs = pd.DataFrame(index=adata.obs_names[rows])
    if batch_key is not None:
        obs[batch_key] = adata.obs[batch_key].to_numpy()[rows]
    shell = AnnData(X=matrix[rows], obs=obs, var=pd.DataFrame(index=names))
    _embed(shell, batch_key, SUB_COMPS, random_state, extra=extra, n_top_genes=SUB_TOP_GENES,
           scale=True)
    labels = cluster(shell, resolutions=(resolution,), random_state=random_state,
                     inplace=False)[K.LEIDEN]
    return labels.astype(str).to_numpy(dtype=object), sp.csr_matrix(shell.obsp[CONNECTIVITIES])


def _refine(adata: AnnData, matrix, rows: np.ndarray, labels: np.ndarray,
            graph: sp.csr_matrix, scores: Scores, embed: dict) -> np.ndarray:
    """Sub-cluster once more each sub-cluster whose cells disagree with its call."""
    cell_best, _ = scores.smoothed(labels, graph)
    refined = labels.copy()
    for name in pd.unique(labels):
        members = np.flatnonzero(labels == name)
        if len(members) < 2 * MIN_CELLS:
            continue
        if scores.group(members, cell_best)[3] >= REFINE_AGREEMENT:
            continue
        inner, _ = _subcluster(adata, matrix, rows[members], **embed)
        refined[members] = [f"{name}.{label}" for label in inner]
    return refined


def _call(scores: Scores, clusters: np.ndarray, graph: sp.csr_matrix, *, level: str,
          lineage: str, min_score: float | None) -> Calls:
    """Call each cluster's label from panel scores, cell by cell where a cluster is mixed.

    At the lineage level a label is a lineage (the best of its panels); at the cell-type
    level it is the panel's name.
    """
    n_cells = len(clusters)
    if not scores.labels:
        return Calls(np.full(n_cells, UNASSIGNED, dtype=object), np.zeros(n_cells),
                     pd.DataFrame())
    cell_best, cell_panel = scores.smoothed(clusters, graph)
    labels = np.array(scores.labels, dtype=object)
    out_labels = np.empty(n_cells, dtype=object)
    support = np.ones(n_cells)  # in a mixed cluster, the share of its cells with one's label
    rows = []
    for name in sorted(pd.unique(clusters), key=_natural):
        members = np.flatnonzero(clusters == name)
        label_scores, best_panel, order, agreement = scores.group(members, cell_best)
        below = min_score is not None and label_scores[order[0]] < min_score
        mixed = agreement < MIN_AGREEMENT
        if mixed:
            out_labels[members] = labels[cell_best[members].argmax(axis=1)]
            if min_score is not None:
                weak = cell_best[members].max(axis=1) < min_score
                out_labels[members[weak]] = UNASSIGNED
            shares = pd.Series(out_labels[members]).value_counts(normalize=True)
            support[members] = shares.reindex(out_labels[members]).to_numpy()
        else:
            out_labels[members] = UNASSIGNED if below else labels[order[0]]
        rows.append(_row(scores, members, label_scores, order, best_panel, level=level,
                         lineage=lineage, cluster=name, mixed=mixed, agreement=agreement,
                         unassigned=below and not mixed))
    confidence = _cell_confidence(out_labels, cell_best, cell_panel, scores) * support
    return Calls(out_labels, confidence, pd.DataFrame(rows))


def _natural(name: str) -> tuple:
    """Sort cluster names such as ``B.2`` before ``B.10``."""
    return tuple(int(part) if part.isdigit() else -1 for part in str(name).split("."))


def _smooth(graph: sp.csr_matrix, clusters: np.ndarray) -> sp.csr_matrix:
    """Average over each cell and its neighbours in the same cluster (rows sum to one)."""
    codes = pd.factorize(clusters)[0]
    edges = sp.coo_matrix(graph)
    same = codes[edges.row] == codes[edges.col]
    weights = sp.csr_matrix((edges.data[same], (edges.row[same], edges.col[same])),
                            shape=graph.shape, dtype=np.float64)
    weights = weights + sp.identity(graph.shape[0], format="csr")
    return sp.diags(1.0 / np.asarray(weights.sum(axis=1)).ravel()) @ weights


def _collapse(scores: np.ndarray, label_of: np.ndarray,
              labels: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Per label, the best score over its panels and which panel (column of ``scores``) it is."""
    best = np.empty((scores.shape[0], len(labels)))
    which = np.empty((scores.shape[0], len(labels)), dtype=int)
    for j, label in enumerate(labels):
        columns = np.flatnonzero(label_of == label)
        pick = scores[:, columns].argmax(axis=1)
        which[:, j] = columns[pick]
        best[:, j] = scores[np.arange(scores.shape[0]), columns[pick]]
    return best, which


def _confidence(margin: np.ndarray | float, coverage: np.ndarray | float) -> np.ndarray:
    margin = np.maximum(np.asarray(margin, dtype=float), 0.0)
    return (1.0 - np.exp(-margin / CONFIDENCE_SCALE)) * np.asarray(coverage)


def _cell_confidence(out_labels: np.ndarray, cell_best: np.ndarray, cell_panel: np.ndarray,
                     scores: Scores) -> np.ndarray:
    """Margin of each cell's label over the best other label, from neighbour-averaged scores."""
    confidence = np.zeros(len(out_labels))
    position = {label: j for j, label in enumerate(scores.labels)}
    columns = np.array([position.get(label, -1) for label in out_labels])
    called = np.flatnonzero(columns >= 0)
    if not len(called):
        return confidence
    coverage = scores.panel_set.coverage[scores.usable]
    own = cell_best[called, columns[called]]
    own_coverage = coverage[cell_panel[called, columns[called]]]
    if len(scores.labels) == 1:
        confidence[called] = own_coverage
        return confidence
    others = cell_best[called].copy()
    others[np.arange(len(called)), columns[called]] = -np.inf
    runner = others.argmax(axis=1)
    runner_coverage = coverage[cell_panel[called, runner]]
    confidence[called] = _confidence(own - others.max(axis=1),
                                     (own_coverage + runner_coverage) / 2)
    return confidence


def _row(scores: Scores, members: np.ndarray, label_scores: np.ndarray, order: np.ndarray,
         best_panel: np.ndarray, *, level: str, lineage: str, cluster: str, mixed: bool,
         agreement: float, unassigned: bool) -> dict:
    """One line of the table of calls: the cluster's label and the genes behind it."""
    panel_set = scores.panel_set
    panel = scores.usable[best_panel[order[0]]]
    contributions = panel_set.contributions(scores.z[members].mean(axis=0), panel)
    contributions = contributions.sort_values(ascending=False, kind="stable")
    negative = set(panel_set.panels[panel].negative)
    top = [f"low {f}" if f in negative else f for f in contributions.index[:TOP_GENES]
           if contributions[f] > 0]
    best = scores.labels[order[0]]
    coverage = float(panel_set.coverage[panel])
    if len(order) > 1:
        runner = scores.labels[order[1]]
        runner_score = float(label_scores[order[1]])
        margin = float(label_scores[order[0]]) - runner_score
        runner_coverage = float(panel_set.coverage[scores.usable[best_panel[order[1]]]])
        confidence = float(_confidence(margin, (coverage + runner_coverage) / 2))
    else:
        runner, runner_score, margin, confidence = "", np.nan, np.nan, coverage
    return {
        "level": level, "lineage": lineage or best, "cluster": str(cluster),
        "n_cells": len(members), "label": UNASSIGNED if unassigned else best,
        "panel": panel_set.panels[panel].name, "score": float(label_scores[order[0]]),
        "runner_up": runner, "runner_up_score": runner_score, "margin": margin,
        "confidence": 0.0 if unassigned else confidence, "coverage": coverage,
        "mixed": mixed, "agreement": agreement, "top_genes": ", ".join(top),
        "missing_genes": ", ".join(panel_set.missing[panel]),
    }


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
