"""Shared plumbing of the plotting functions: axes, palettes, showing and saving."""

from __future__ import annotations

import os
from pathlib import Path

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from ..io._write import atomic_path

NAN_COLOR = "#d3d3d3"


def new_axes(ax: Axes | None, figsize: tuple[float, float] = (5.0, 4.5)) -> tuple[Axes, bool]:
    """Return ``ax``, or the axes of a new figure; the flag says whether the figure is new."""
    if ax is not None:
        return ax, False
    _, ax = plt.subplots(figsize=figsize, layout="constrained")
    return ax, True


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
