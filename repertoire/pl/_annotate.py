"""Cell identity: lineages and cell types in an embedding, their markers, and composition."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import scanpy as sc
import scipy.sparse as sp
from anndata import AnnData
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from .. import _keys as K
from .._docs import doc_params
from .._errors import InputError
from .._utils import gene_index, one_batch, require_obs
from ..resources import ALTERNATIVE, marker_panels
from ..tl import composition as composition_table
from ._embedding import embedding_panels
from ._utils import finish, palette, panels


@doc_params
def cell_types(
    adata: AnnData,
    *,
    basis: str = "umap",
    legend_loc: str = "right margin",
    ax: Sequence[Axes] | None = None,
    show: bool | None = None,
    save: str | os.PathLike | None = None,
) -> Figure:
    """Draw the cells in an embedding twice: coloured by lineage and by cell type.

    Two panels of :func:`repertoire.pl.embedding`, for the labels of
    :func:`repertoire.tl.annotate`.

    Parameters
    ----------
    {adata}
        With ``.obs["lineage"]`` and ``.obs["cell_type"]``.
    basis
        Embedding in ``.obsm``: ``"umap"`` reads ``"X_umap"``.
    legend_loc
        ``"right margin"``, ``"on data"`` or ``"none"``.
    ax
        Two axes to draw into; a new figure is made when ``None``.
    {show_save}

    Returns
    -------
    The figure drawn into.
    """
    require_obs(adata, K.LINEAGE, K.CELL_TYPE, hint="; run repertoire.tl.annotate first")
    return embedding_panels(adata, [K.LINEAGE, K.CELL_TYPE], basis=basis,
                            legend_loc=legend_loc, ax=ax, show=show, save=save)


@doc_params
def marker_dotplot(
    adata: AnnData,
    *,
    groupby: str = K.CELL_TYPE,
    markers: Mapping | str | os.PathLike | None = None,
    genes_per_type: int = 4,
    gene_symbols: str | None = None,
    layer: str | None = None,
    ax: Axes | None = None,
    show: bool | None = None,
    save: str | os.PathLike | None = None,
) -> Figure:
    """Draw a dot plot of each cell type's positive markers across the cell types.

    Wraps :func:`scanpy.pl.dotplot`: one block of genes per cell type of the panels (the
    first ``genes_per_type`` positive markers found in the data, matched case-insensitively;
    of alternatives such as the switched isotypes, the most expressed), dot size the share
    of cells expressing a gene, colour its mean expression.

    Parameters
    ----------
    {adata}
        With log-normalised expression and the labels in ``.obs[groupby]``.
    groupby
        Column of ``.obs`` with one row of dots per value.
    markers
        Marker panels, as for :func:`repertoire.tl.annotate` (``None``: the shipped ones).
    genes_per_type
        Most genes shown for each cell type.
    gene_symbols
        Column of ``.var`` holding gene symbols; ``None`` uses ``.var_names``.
    {layer}
    ax
        Axes to draw into; a new figure is made when ``None``.
    {show_save}

    Returns
    -------
    The figure drawn into.
    """
    require_obs(adata, groupby)
    panels = marker_panels(markers)["cell_types"]
    groups = adata.obs[groupby].astype("category").cat.remove_unused_categories()
    genes = _panel_genes(adata, panels, [str(g) for g in groups.cat.categories],
                         genes_per_type, gene_symbols, layer)
    if not genes:
        raise InputError(f"no marker gene of the cell types in .obs['{groupby}'] is in the data.")
    shell = AnnData(X=adata.X if layer is None else adata.layers[layer],
                    obs=pd.DataFrame({groupby: groups}, index=adata.obs_names), var=adata.var)
    plot = sc.pl.dotplot(shell, var_names=genes, groupby=groupby, gene_symbols=gene_symbols,
                         ax=ax, show=False, return_fig=True)
    plot.make_figure()
    fig = plot.fig
    finish(fig, show=show, save=save, owned=ax is None)
    return fig


def _panel_genes(adata: AnnData, panels: dict, types: list[str], n: int,
                 gene_symbols: str | None, layer: str | None) -> dict[str, list[str]]:
    """Per cell type present, its first ``n`` positive markers as named in the data."""
    index = gene_index(adata, gene_symbols)
    names = (adata.var_names if gene_symbols is None else adata.var[gene_symbols]).astype(str)
    matrix = adata.X if layer is None else adata.layers[layer]
    chosen: dict[str, list[str]] = {}
    for cell_type in types:
        if cell_type not in panels:
            continue
        found = []
        for feature in panels[cell_type]["positive"]:
            columns = [index[g.upper()] for g in feature.split(ALTERNATIVE) if g.upper() in index]
            if columns:
                found.append(names[_most_expressed(matrix, columns)])
            if len(found) == n:
                break
        if found:
            chosen[cell_type] = found
    return chosen


def _most_expressed(matrix, columns: list[int]) -> int:
    if len(columns) == 1:
        return columns[0]
    means = np.asarray(matrix[:, columns].mean(axis=0)).ravel() if sp.issparse(matrix) \
        else np.asarray(matrix)[:, columns].mean(axis=0)
    return columns[int(np.argmax(means))]


@doc_params
@one_batch("batch_key")
def composition(
    adata: AnnData,
    *,
    groupby: str = K.CELL_TYPE,
    batch_key: str = K.SAMPLE,
    ax: Axes | None = None,
    show: bool | None = None,
    save: str | os.PathLike | None = None,
) -> Axes:
    """Draw each sample's composition as a stacked bar of label fractions.

    Samples are ordered by patient, then day (see :func:`repertoire.tl.composition`); a
    sample without cells of a label (B-cell aplasia) simply has no segment for it.

    Parameters
    ----------
    {adata}
    groupby
        Column of ``.obs`` with the labels (cell types by default).
    batch_key
        Column of ``.obs`` with one bar per value; ``sample_id`` absent from ``.obs`` (one
        sample on its own) draws one bar, ``"all"``.
    {plot}

    Returns
    -------
    The axes drawn into.
    """
    table = composition_table(adata, groupby=groupby, batch_key=batch_key)
    fractions = table.pivot(index=batch_key, columns=groupby, values="fraction")
    samples = list(dict.fromkeys(table[batch_key]))
    labels = list(dict.fromkeys(table[groupby]))
    fractions = fractions.reindex(index=samples, columns=labels).fillna(0.0)
    colors = _label_colors(adata, groupby, labels)
    width = max(6.0, 2.5 + 0.25 * len(samples))
    fig, (ax,), owned = panels(ax, 1, (width, 4.5))
    bottom = np.zeros(len(samples))
    positions = np.arange(len(samples))
    for label, color in zip(labels, colors, strict=False):
        values = fractions[label].to_numpy()
        ax.bar(positions, values, bottom=bottom, color=color, width=0.85, label=label,
               linewidth=0)
        bottom += values
    ax.set_xticks(positions)
    ax.set_xticklabels(samples, rotation=90,
                       fontsize=max(4.0, min(9.0, 500 / max(len(samples), 1))))
    ax.set(xlim=(-0.6, len(samples) - 0.4), ylim=(0, 1), ylabel="fraction of cells",
           title=f"{groupby} per {batch_key}")
    ax.legend(loc="center left", bbox_to_anchor=(1, 0.5), frameon=False, fontsize="small",
              ncol=1 + len(labels) // 16, title=groupby)
    finish(fig, show=show, save=save, owned=owned)
    return ax


def _label_colors(adata: AnnData, groupby: str, labels: list[str]) -> list:
    """Return the colours of ``labels``.

    Those stored in ``.uns`` for the column's categories (as scanpy's embeddings draw them),
    else a palette.
    """
    stored = adata.uns.get(f"{groupby}_colors")
    column = adata.obs[groupby]
    if stored is not None and isinstance(column.dtype, pd.CategoricalDtype) and len(
            stored) == len(column.cat.categories):
        by_label = dict(zip(column.cat.categories.astype(str), stored, strict=True))
        if all(str(label) in by_label for label in labels):
            return [by_label[str(label)] for label in labels]
    return palette(len(labels))
