"""Shared plumbing of the plotting functions: axes, palettes, intervals, showing and saving."""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from .. import _keys as K
from .._errors import InputError
from ..io import atomic_path

NAN_COLOR = "#d3d3d3"
OUTCOME_COLORS = {"remission": "#1f77b4", "relapse": "#d62728", "unknown": "#7f7f7f"}


def panels(
    ax: Axes | Sequence[Axes] | None,
    n: int = 1,
    figsize: tuple[float, float] = (5.0, 4.5),
    *,
    ncols: int = 1,
    sharex: bool = False,
) -> tuple[Figure, list[Axes], bool]:
    """Return the axes to draw ``n`` panels into: those given, or those of a new figure.

    Parameters
    ----------
    ax
        ``None`` for a new figure of ``n`` panels (``ncols`` per row), else one Axes or a
        sequence of ``n`` of them.
    n
        Number of panels the figure draws.
    figsize
        Size of a new figure.
    ncols
        Panels per row of a new figure.
    sharex
        Whether the panels of a new figure share their x axis.

    Returns
    -------
    The figure, its ``n`` axes, and whether the figure is new (and so ours to close).
    """
    if ax is None:
        fig, grid = plt.subplots(math.ceil(n / ncols), ncols, figsize=figsize, sharex=sharex,
                                 squeeze=False, layout="constrained")
        return fig, list(grid.ravel()[:n]), True
    axes = [ax] if isinstance(ax, Axes) else list(ax)
    if len(axes) != n:
        raise InputError(
            f"ax holds {len(axes)} axes; this figure draws {n} panel{'' if n == 1 else 's'}."
        )
    return axes[0].figure, axes, False


def timepoint_order(frame: pd.DataFrame) -> list:
    """Return the timepoints of ``frame`` (``.obs`` or a per-sample table) by median day."""
    days = frame.groupby(K.TIMEPOINT, observed=True)[K.DAY].median().sort_values()
    return list(days.index)


def interval(frame: pd.DataFrame, column: str) -> np.ndarray:
    """Error-bar lengths below and above ``column`` from its ``_lo``/``_hi`` columns."""
    value = frame[column].to_numpy(dtype=float)
    below = value - frame[f"{column}_lo"].to_numpy(dtype=float)
    above = frame[f"{column}_hi"].to_numpy(dtype=float) - value
    return np.clip(np.vstack([below, above]), 0.0, None)


def palette(n: int) -> list[str]:
    """Return ``n`` distinguishable colours (scanpy's choice for up to 20, then more)."""
    if n <= 10:
        colors = plt.get_cmap("tab10").colors
    elif n <= 20:
        colors = plt.get_cmap("tab20").colors
    else:
        colors = [
            *plt.get_cmap("tab20").colors, *plt.get_cmap("tab20b").colors,
            *plt.get_cmap("tab20c").colors,
        ]
        if n > len(colors):
            colors = plt.get_cmap("gist_rainbow")(np.linspace(0, 1, n, endpoint=False))
    return [mpl.colors.to_hex(c) for c in colors[:n]]


def finish(
    fig: Figure, *, show: bool | None, save: str | os.PathLike | None, owned: bool
) -> None:
    """Save ``fig`` atomically when asked, show it, and close it if it was ours and is done."""
    if save is not None:
        suffix = Path(save).suffix.lstrip(".") or "png"
        with atomic_path(save) as tmp:
            fig.savefig(tmp, format=suffix, dpi=150, bbox_inches="tight")
    if show is None:
        show = save is None and mpl.is_interactive()
    if show:
        plt.show()
    elif save is not None and owned:
        plt.close(fig)
