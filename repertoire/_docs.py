"""Shared numpydoc parameter text, injected with :func:`doc_params`."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

F = TypeVar("F", bound=Callable)

SNIPPETS = {
    "adata": """adata
        Annotated cells x genes matrix, as produced by :func:`repertoire.io.read_cohort`.""",
    "layer": """layer
        Layer to read expression from; ``None`` uses ``.X``.""",
    "counts_layer": """layer
        Layer holding raw counts.""",
    "batch_key": """batch_key
        Column of ``.obs`` whose values are processed separately (one sample each by default).
        ``None``, or ``sample_id`` absent from ``.obs`` (one sample on its own), processes all
        cells as one batch.""",
    "random_state": """random_state
        Seed of every random step; the same seed gives the same result.""",
    "inplace": """inplace
        Write results into ``adata`` (and return ``None``); otherwise return them and leave
        ``adata`` unchanged.""",
    "key_added": """key_added
        Key under which results are written.""",
    "plot": """ax
        Axes to draw into; a new figure is made when ``None``.
    {show_save}""",
    "show_save": """show
        Show the figure (default: only when not saving and running interactively).
    save
        Write the figure to this path (format from its suffix).""",
}


SNIPPETS["plot"] = SNIPPETS["plot"].format(show_save=SNIPPETS["show_save"])


def doc_params(func: F) -> F:
    """Fill ``{adata}``-style placeholders in ``func``'s docstring from :data:`SNIPPETS`."""
    if func.__doc__:
        func.__doc__ = func.__doc__.format(**SNIPPETS)
    return func
