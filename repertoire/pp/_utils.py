"""Helpers shared by the preprocessing steps: input checks and h5ad-safe parameter records."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
from anndata import AnnData

from .._errors import InputError


def record(**params: object) -> dict[str, object]:
    """Return ``params`` in a form that ``.write_h5ad`` accepts (tuples become lists)."""
    return {name: _writable(value) for name, value in params.items()}


def _writable(value: object) -> object:
    if isinstance(value, tuple | list):
        return [_writable(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): _writable(v) for k, v in value.items()}
    if isinstance(value, np.generic):
        return value.item()
    return value


def require_obs(adata: AnnData | pd.DataFrame, *columns: str, hint: str = "") -> None:
    """Raise :class:`InputError` naming the first of ``columns`` missing from ``.obs``."""
    obs = adata if isinstance(adata, pd.DataFrame) else adata.obs
    for column in columns:
        if column not in obs.columns:
            raise InputError(f"column '{column}' is not in .obs{hint}.")


def require_layer(adata: AnnData, layer: str | None) -> None:
    """Raise :class:`InputError` when ``layer`` (``None`` meaning ``.X``) holds no matrix."""
    if layer is None:
        if adata.X is None:
            raise InputError(".X holds no matrix; run repertoire.pp.normalize first.")
    elif layer not in adata.layers:
        raise InputError(f"layer '{layer}' is not in .layers.")


def batches(obs: pd.DataFrame, batch_key: str | None) -> pd.Series:
    """Return one batch label per cell as a categorical (one batch for all when ``None``)."""
    if batch_key is None:
        return pd.Series(pd.Categorical(["all"] * len(obs)), index=obs.index)
    require_obs(obs, batch_key)
    labels = obs[batch_key]
    if labels.isna().any():
        raise InputError(f"column '{batch_key}' of .obs has missing values.")
    return labels.astype("category").cat.remove_unused_categories()
