"""What every layer shares: input checks, batches, h5ad-safe records and the one result store.

Every ``pp``/``tl`` function ends with :func:`store`: with ``inplace=False`` it hands the result
back and writes nothing; otherwise it writes the per-cell (``.obs``), per-gene (``.var``),
embedding (``.obsm``) and graph (``.obsp``) parts, and ``.uns[key_added]`` as the tool's tables
(named after what one row is, see :mod:`repertoire._keys`) beside ``"params"``, the record of
every argument and seed.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Mapping
from typing import TypeVar

import numpy as np
import pandas as pd
from anndata import AnnData

from . import _keys as K
from ._errors import InputError
from ._logging import logger

T = TypeVar("T")


def record(**params: object) -> dict[str, object]:
    """Return ``params`` in a form that ``.write_h5ad`` accepts (tuples become lists)."""
    return {name: _writable_value(value) for name, value in params.items()}


def _writable_value(value: object) -> object:
    if isinstance(value, tuple | list):
        return [_writable_value(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): _writable_value(v) for k, v in value.items()}
    if isinstance(value, np.generic):
        return value.item()
    return value


def writable(table: pd.DataFrame) -> pd.DataFrame:
    """Return ``table`` with text columns holding missing values as categoricals.

    anndata writes an object column only when every value is a string; a categorical keeps the
    missing values and reads back as the same table. Numbers left in an object column (by a
    concatenation with an empty table) become numbers again.
    """
    table = table.copy()
    for column in table.columns:
        values = table[column]
        numbers = values.dropna().map(lambda v: isinstance(v, int | float | np.number))
        if values.dtype == object and len(numbers) and numbers.all():
            table[column] = pd.to_numeric(values)  # numbers left as objects by a concat
        elif values.dtype == object and values.isna().any():
            table[column] = pd.Categorical(values.astype(object).where(values.notna(), None))
        elif values.dtype == object:
            table[column] = values.astype(str) if values.map(type).eq(str).all() else values
    return table


def store(
    adata: AnnData,
    key_added: str | None,
    *,
    params: Mapping[str, object],
    inplace: bool,
    result: T = None,
    obs: pd.DataFrame | None = None,
    var: pd.DataFrame | None = None,
    obsm: Mapping[str, object] | None = None,
    obsp: Mapping[str, object] | None = None,
    varm: Mapping[str, object] | None = None,
    tables: Mapping[str, pd.DataFrame] | None = None,
    uns: Mapping[str, object] | None = None,
) -> T | None:
    """Write a tool's results into ``adata``, or hand them back and leave ``adata`` untouched.

    Parameters
    ----------
    adata
        The AnnData the tool ran on.
    key_added
        ``.uns[key_added]`` receives ``tables`` and ``uns`` beside ``"params"``; ``None`` writes
        no record (for tools whose record scanpy keeps under its own key).
    params
        Every argument of the call, the seed included (see :func:`record`).
    inplace
        Write (and return ``None``), or return ``result`` and write nothing.
    result
        What the tool returns with ``inplace=False``.
    obs, var
        Columns written into ``.obs`` / ``.var`` (same index as ``adata``'s).
    obsm, obsp, varm
        Arrays written into ``.obsm`` / ``.obsp`` / ``.varm`` under their keys.
    tables
        Tidy tables written into ``.uns[key_added]`` (made h5ad-safe with :func:`writable`).
    uns
        Other values of the record (scalars, lists), written beside the tables.

    Returns
    -------
    ``result`` with ``inplace=False``, otherwise ``None``.
    """
    if not inplace:
        return result
    for frame, target in ((obs, adata.obs), (var, adata.var)):
        if frame is not None:
            for column in frame.columns:
                target[column] = frame[column]
    for arrays, target in ((obsm, adata.obsm), (obsp, adata.obsp), (varm, adata.varm)):
        for name, value in (arrays or {}).items():
            target[name] = value
    if key_added is not None:
        adata.uns[key_added] = {
            **{name: writable(table) for name, table in (tables or {}).items()},
            **dict(uns or {}),
            K.PARAMS: record(**params),
        }
    return None


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


def require_result(adata: AnnData, key: str, table: str | None, producer: str) -> object:
    """``.uns[key][table]`` (or ``.uns[key]``), or :class:`InputError` naming what makes it."""
    entry = adata.uns.get(key)
    if entry is None or (table is not None and table not in entry):
        where = f".uns['{key}']" + ("" if table is None else f"['{table}']")
        raise InputError(f"{where} is missing; run {producer} first.")
    return entry if table is None else entry[table]


#: cohort columns whose absence means one-sample data (scanpy's ``batch_key=None``)
ONE_BATCH_KEYS = (K.SAMPLE, K.PATIENT, K.TIMEPOINT)


def cohort_key(obs: pd.DataFrame, key: str | None) -> str | None:
    """Return ``key``, or ``None`` when it is a cohort column absent from ``obs``.

    A single sample read on its own (a scanpy user's AnnData) has no ``sample_id``,
    ``patient_id`` or ``timepoint``; tools whose default names one then treat all cells as one
    batch, and say so in one log line. Any other missing column raises :class:`InputError`.
    """
    if key is None or key in obs.columns:
        return key
    if key in ONE_BATCH_KEYS:
        logger.info("column '%s' is not in .obs: all %d cells are one batch", key, len(obs))
        return None
    require_obs(obs, key)
    return key


ONE_BATCH = "all"  # the label of the one batch of single-sample data
F = TypeVar("F", bound=Callable)


def one_batch(*parameters: str) -> Callable[[F], F]:
    """Let a tool run on single-sample data whose ``.obs`` lacks its cohort columns.

    When the argument of one of ``parameters`` (for example ``sample_key``) names a cohort
    column (:data:`ONE_BATCH_KEYS`) absent from ``adata.obs``, the tool sees that column with
    one value for every cell, ``"all"`` (one log line says so), as scanpy's tools treat
    ``batch_key=None``; the column is gone again when the tool returns, so ``adata`` ends as
    the tool alone leaves it.
    """

    def decorate(func: F) -> F:
        signature = inspect.signature(func)

        @functools.wraps(func)
        def tool(*args, **kwargs):
            bound = signature.bind(*args, **kwargs)
            bound.apply_defaults()
            adata = next(iter(bound.arguments.values()))
            added = []
            for parameter in parameters:
                key = bound.arguments[parameter]
                if key in ONE_BATCH_KEYS and key not in adata.obs.columns and key not in added:
                    logger.info("column '%s' is not in .obs: all %d cells are one batch ('%s')",
                                key, adata.n_obs, ONE_BATCH)
                    adata.obs[key] = pd.Categorical([ONE_BATCH] * adata.n_obs)
                    added.append(key)
            try:
                return func(*bound.args, **bound.kwargs)
            finally:
                for key in added:
                    if key in adata.obs.columns:
                        del adata.obs[key]

        return tool

    return decorate


def batches(obs: pd.DataFrame, batch_key: str | None) -> pd.Series:
    """Return one batch label per cell as a categorical.

    All cells are one batch when ``batch_key`` is ``None`` or a cohort column absent from
    ``obs`` (see :func:`cohort_key`).
    """
    batch_key = cohort_key(obs, batch_key)
    if batch_key is None:
        return pd.Series(pd.Categorical([ONE_BATCH] * len(obs)), index=obs.index)
    labels = obs[batch_key]
    if labels.isna().any():
        raise InputError(f"column '{batch_key}' of .obs has missing values.")
    return labels.astype("category").cat.remove_unused_categories()


def gene_index(adata: AnnData, gene_symbols: str | None) -> dict[str, int]:
    """Map upper-cased gene symbols to column positions (the first of duplicated symbols).

    Symbols come from ``.var_names``, or from the ``.var`` column ``gene_symbols`` (for
    Ensembl ``var_names``); every tool that looks genes up by name matches them this way.
    """
    if gene_symbols is None:
        symbols = adata.var_names
    elif gene_symbols not in adata.var:
        raise InputError(f"gene_symbols column '{gene_symbols}' is not in .var.")
    else:
        symbols = adata.var[gene_symbols]
    index: dict[str, int] = {}
    for position, symbol in enumerate(pd.Series(symbols).astype(str).str.upper()):
        index.setdefault(symbol, position)
    return index


SAMPLE_COLUMNS = (K.PATIENT, K.TIMEPOINT, K.DAY, K.TISSUE, K.OUTCOME)


def sample_metadata(
    obs: pd.DataFrame, sample_key: str = K.SAMPLE, columns: tuple[str, ...] = SAMPLE_COLUMNS
) -> pd.DataFrame:
    """Return one row per sample with the ``columns`` of ``.obs`` that exist.

    Samples come in order of first appearance; categoricals become plain values and sample
    identifiers strings.
    """
    present = [c for c in columns if c in obs and c != sample_key]
    table = obs[[sample_key, *present]].copy()
    for column in table.columns:
        if isinstance(table[column].dtype, pd.CategoricalDtype):
            table[column] = table[column].astype(object)
    table[sample_key] = table[sample_key].astype(str)
    return table.drop_duplicates(sample_key).reset_index(drop=True)
