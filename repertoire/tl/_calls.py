"""Calls of cell identity from panel scores: cluster by cluster, cell by cell where mixed.

Each cluster takes the label of its best panel (lineage panels vote for their lineage); cells
take their scores averaged over their neighbours within the cluster, and a cluster whose cells
disagree too often is called cell by cell. Confidence is the margin over the best other label.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

from .. import _keys as K
from ._panels import PanelSet

UNASSIGNED = "unassigned"
CONFIDENCE_SCALE = 0.5  # a margin of this many z-units gives a confidence of 1 - 1/e
MIN_AGREEMENT = 0.75  # a cluster with fewer cells preferring its label is called cell by cell
TOP_GENES = 5


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
        """Return a group's label scores (best first), best panels, and its cells' agreement."""
        label_scores, best_panel = _collapse(self.cells[members].mean(axis=0)[None, :],
                                             self.label_of, self.labels)
        order = np.argsort(-label_scores[0], kind="stable")
        agreement = float(np.mean(cell_best[members].argmax(axis=1) == order[0]))
        return label_scores[0], best_panel[0], order, agreement


def call_clusters(
    scores: Scores, clusters: np.ndarray, graph: sp.csr_matrix, *, level: str, lineage: str,
    min_score: float | None,
) -> Calls:
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
