"""Per-sample distributions of the quality metrics, with each sample's thresholds."""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np
import pandas as pd
from anndata import AnnData
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import FuncFormatter

from .. import _keys as K
from .._docs import doc_params
from .._errors import InputError
from .._utils import one_batch
from ._utils import finish, panels

# metric: (axis label, log scale, lower and upper threshold columns of the threshold table)
METRICS = {
    K.N_COUNTS: ("total counts", True, "min_counts", "max_counts"),
    K.N_GENES: ("genes detected", True, "min_genes", "max_genes"),
    K.PCT_MT: ("% mitochondrial", False, None, "max_pct_mt"),
    K.PCT_RIBO: ("% ribosomal", False, None, None),
}
PASSED, LOW_QUALITY, DOUBLET = "#9a9a9a", "#d62728", "#ff7f0e"


@doc_params
@one_batch("batch_key")
def qc(
    adata: AnnData,
    *,
    batch_key: str = K.SAMPLE,
    metrics: Sequence[str] = (K.N_COUNTS, K.N_GENES, K.PCT_MT),
    max_points: int = 300,
    ax: Axes | Sequence[Axes] | None = None,
    show: bool | None = None,
    save: str | os.PathLike | None = None,
) -> Figure:
    """Draw each sample's distribution of quality metrics with its thresholds and flagged cells.

    One panel per metric, one column per sample: a violin of all cells, up to ``max_points``
    cells that passed (grey), every cell flagged as low quality (red) or doublet (orange), and
    the sample's thresholds from :func:`repertoire.pp.flag_low_quality` as black bars. Counts
    and genes are on a log scale. Width grows with the number of samples, so 90 samples stay
    readable.

    Parameters
    ----------
    {adata}
        After :func:`repertoire.pp.qc` (or at least :func:`repertoire.pp.qc_metrics`).
    batch_key
        Column of ``.obs`` with one violin per value; ``sample_id`` absent from ``.obs`` (one
        sample on its own) draws one, ``"all"``.
    metrics
        Columns of ``.obs`` to draw, one panel each.
    max_points
        Cells that passed drawn per sample (a seeded random subset); flagged cells are all drawn.
    ax
        One axes per metric to draw into; a new figure is made when ``None``.
    {show_save}

    Returns
    -------
    The figure drawn into.
    """
    for metric in (batch_key, *metrics):
        if metric not in adata.obs:
            raise InputError(f"column '{metric}' is not in .obs; run repertoire.pp.qc first.")
    labels = adata.obs[batch_key].astype("category").cat.remove_unused_categories()
    samples = list(labels.cat.categories)
    width = max(6.0, 1.5 + 0.22 * len(samples))
    fig, axes, owned = panels(ax, len(metrics), (width, 2.3 * len(metrics) + 1), sharex=True)
    thresholds = _thresholds(adata, batch_key, samples)
    flags = _flags(adata)
    codes = labels.cat.codes.to_numpy()
    shown = _subsample(codes, flags.any(axis=1).to_numpy(), len(samples), max_points)
    jitter = np.random.default_rng(0).uniform(-0.3, 0.3, adata.n_obs)
    for metric, axis in zip(metrics, axes, strict=True):
        label, log, low, high = METRICS.get(metric, (metric, False, None, None))
        values = adata.obs[metric].to_numpy(dtype=float)
        if log:
            values = np.log10(np.maximum(values, 1))
            axis.yaxis.set_major_formatter(FuncFormatter(lambda y, _: f"{10 ** y:,.0f}"))
        groups = [values[codes == i] for i in range(len(samples))]
        nonempty = [i for i, g in enumerate(groups) if len(g) > 1]
        if nonempty:
            bodies = axis.violinplot([groups[i] for i in nonempty], positions=nonempty,
                                     widths=0.8, showextrema=False)["bodies"]
            for body in bodies:
                body.set(facecolor="#c6dbef", edgecolor="none", alpha=0.8)
        for mask, colour in ((shown & ~flags.any(axis=1).to_numpy(), PASSED),
                             (flags[K.LOW_QUALITY].to_numpy(), LOW_QUALITY),
                             (flags[K.DOUBLET].to_numpy(), DOUBLET)):
            axis.scatter(codes[mask] + jitter[mask], values[mask], s=2, c=colour,
                         linewidths=0, rasterized=True)
        for column in (low, high):
            if column is not None and thresholds is not None:
                limit = thresholds[column].to_numpy(dtype=float)
                limit = np.log10(np.maximum(limit, 1)) if log else limit
                finite = np.isfinite(limit)
                axis.hlines(limit[finite], np.flatnonzero(finite) - 0.45,
                            np.flatnonzero(finite) + 0.45, colors="black", linewidths=1)
        axis.set_ylabel(label)
    axes[-1].set_xticks(range(len(samples)))
    axes[-1].set_xticklabels([str(s) for s in samples], rotation=90,
                             fontsize=max(4.0, min(9.0, 500 / max(len(samples), 1))))
    axes[-1].set_xlim(-0.6, len(samples) - 0.4)
    axes[0].legend(handles=[
        Line2D([], [], marker="o", linestyle="", color=PASSED, label="passed"),
        Line2D([], [], marker="o", linestyle="", color=LOW_QUALITY, label="low quality"),
        Line2D([], [], marker="o", linestyle="", color=DOUBLET, label="doublet"),
        Line2D([], [], color="black", label="threshold"),
    ], loc="lower left", bbox_to_anchor=(0, 1.02), ncol=4, frameon=False, fontsize="small")
    finish(fig, show=show, save=save, owned=owned)
    return fig


def _thresholds(adata: AnnData, batch_key: str, samples: list) -> pd.DataFrame | None:
    record = adata.uns.get(K.LOW_QUALITY)
    if record is None or batch_key not in record[K.TABLE_SAMPLES]:
        return None
    table = record[K.TABLE_SAMPLES].set_index(batch_key)
    return table.reindex([str(s) for s in samples] if table.index.dtype == object else samples)


def _flags(adata: AnnData) -> pd.DataFrame:
    return pd.DataFrame({
        name: adata.obs[name].astype("boolean").fillna(False).to_numpy(dtype=bool)
        if name in adata.obs else np.zeros(adata.n_obs, dtype=bool)
        for name in (K.LOW_QUALITY, K.DOUBLET)
    })


def _subsample(codes: np.ndarray, flagged: np.ndarray, n_samples: int, n: int) -> np.ndarray:
    """Mark up to ``n`` unflagged cells per sample, chosen with a fixed seed."""
    rng = np.random.default_rng(0)
    shown = np.zeros(len(codes), dtype=bool)
    for i in range(n_samples):
        cells = np.flatnonzero((codes == i) & ~flagged)
        shown[rng.permutation(cells)[:n]] = True
    return shown
