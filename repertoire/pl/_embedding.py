"""Cells in an embedding, coloured by a column of ``.obs`` or a gene."""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np
import pandas as pd
import scipy.sparse as sp
from anndata import AnnData
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from .. import _keys as K
from .._docs import doc_params
from .._errors import InputError
from ._utils import NAN_COLOR, finish, palette, panels

LEGEND_LOCATIONS = ("right margin", "on data", "none")


@doc_params
def embedding(
    adata: AnnData,
    *,
    color: str = K.LEIDEN,
    basis: str = "umap",
    size: float | None = None,
    cmap: str = "viridis",
    legend_loc: str = "right margin",
    title: str | None = None,
    ax: Axes | None = None,
    show: bool | None = None,
    save: str | os.PathLike | None = None,
) -> Axes:
    """Draw the cells in a two-dimensional embedding, coloured by a label or a value.

    Categories take the colours stored in ``.uns[f"{{color}}_colors"]`` when there are as many,
    and are drawn in a shuffled order so that no category hides another; values are drawn
    lowest first with a colour bar. Missing values are grey.

    Parameters
    ----------
    {adata}
    color
        Column of ``.obs`` (categorical, boolean or numeric) or a gene (its ``.X`` values).
    basis
        Embedding in ``.obsm``: ``"umap"`` reads ``"X_umap"``; a full key is used as is.
    size
        Marker size; by default it shrinks with the number of cells.
    cmap
        Colour map of numeric values.
    legend_loc
        ``"right margin"``, ``"on data"`` (labels at each category's median) or ``"none"``.
    title
        Title of the axes; ``color`` by default.
    {plot}

    Returns
    -------
    The axes drawn into.
    """
    key = basis if basis in adata.obsm else f"X_{basis}"
    if key not in adata.obsm:
        raise InputError(f"embedding '{key}' is not in .obsm; compute it first.")
    if legend_loc not in LEGEND_LOCATIONS:
        raise InputError(f"legend_loc '{legend_loc}' is not one of {', '.join(LEGEND_LOCATIONS)}.")
    coordinates = np.asarray(adata.obsm[key])[:, :2]
    values = _values(adata, color)
    fig, (ax,), owned = panels(ax)
    size = size if size is not None else min(30.0, 120_000 / max(adata.n_obs, 1))
    order = np.random.default_rng(0).permutation(adata.n_obs)
    if isinstance(values.dtype, pd.CategoricalDtype):
        _categorical(ax, adata, color, coordinates, values, order, size, legend_loc)
    else:
        numbers = values.to_numpy(dtype=float)
        missing = np.isnan(numbers)
        ax.scatter(*coordinates[missing].T, s=size, c=NAN_COLOR, linewidths=0, rasterized=True)
        order = np.flatnonzero(~missing)[np.argsort(numbers[~missing], kind="stable")]
        points = ax.scatter(*coordinates[order].T, s=size, c=numbers[order], cmap=cmap,
                            linewidths=0, rasterized=True)
        ax.figure.colorbar(points, ax=ax, shrink=0.6, pad=0.02)
    name = basis.removeprefix("X_").upper()
    ax.set(xticks=[], yticks=[], xlabel=f"{name}1", ylabel=f"{name}2",
           title=color if title is None else title)
    finish(fig, show=show, save=save, owned=owned)
    return ax


@doc_params
def embedding_panels(
    adata: AnnData,
    colors: Sequence[str],
    *,
    basis: str = "umap",
    legend_loc: str = "right margin",
    ax: Sequence[Axes] | None = None,
    show: bool | None = None,
    save: str | os.PathLike | None = None,
) -> Figure:
    """Draw the cells in an embedding once per colouring, side by side.

    One panel of :func:`embedding` per entry of ``colors`` (for example the clusterings of
    several resolutions, or lineage and cell type).

    Parameters
    ----------
    {adata}
    colors
        Columns of ``.obs`` or genes, one panel each.
    basis
        Embedding in ``.obsm``: ``"umap"`` reads ``"X_umap"``.
    legend_loc
        ``"right margin"``, ``"on data"`` or ``"none"``.
    ax
        One axes per colouring to draw into; a new figure is made when ``None``.
    {show_save}

    Returns
    -------
    The figure drawn into.
    """
    colors = list(colors)
    if not colors:
        raise InputError("colors is empty; name at least one column of .obs or gene.")
    fig, axes, owned = panels(ax, len(colors), (6.25 * len(colors), 5.0), ncols=len(colors))
    for color, axis in zip(colors, axes, strict=True):
        embedding(adata, color=color, basis=basis, legend_loc=legend_loc, ax=axis, show=False)
    finish(fig, show=show, save=save, owned=owned)
    return fig


def _values(adata: AnnData, color: str) -> pd.Series:
    if color in adata.obs:
        values = adata.obs[color]
        if not isinstance(values.dtype, pd.CategoricalDtype) and values.dtype.kind not in "iuf":
            values = values.astype("category")
        return values
    if color in adata.var_names and adata.X is not None:
        column = adata[:, color].X
        column = column.toarray() if sp.issparse(column) else np.asarray(column)
        return pd.Series(column.ravel(), index=adata.obs_names)
    raise InputError(f"'{color}' is neither a column of .obs nor a gene of .var_names.")


def _categorical(ax, adata, color, coordinates, values, order, size, legend_loc) -> None:
    categories = list(values.cat.categories)
    stored = adata.uns.get(f"{color}_colors")
    colors = list(stored) if stored is not None and len(stored) >= len(categories) else palette(
        len(categories)
    )
    codes = values.cat.codes.to_numpy()
    lookup = np.array([*colors[: len(categories)], NAN_COLOR], dtype=object)
    missing = codes[order] < 0
    order = np.concatenate([order[missing], order[~missing]])
    ax.scatter(*coordinates[order].T, s=size, c=list(lookup[codes[order]]), linewidths=0,
               rasterized=True)
    if legend_loc == "right margin":
        handles = [Line2D([], [], marker="o", linestyle="", color=c, label=str(name))
                   for name, c in zip(categories, colors, strict=False)]
        ax.legend(handles=handles, loc="center left", bbox_to_anchor=(1, 0.5), frameon=False,
                  ncol=1 + len(categories) // 16, fontsize="small")
    elif legend_loc == "on data":
        for code, name in enumerate(categories):
            points = coordinates[codes == code]
            if len(points):
                ax.text(*np.median(points, axis=0), str(name), ha="center", va="center",
                        fontsize="small", fontweight="bold")
