"""Receptor records in scirpy's model: aligning them to cells and joining them across samples."""

from __future__ import annotations

from collections.abc import Sequence

import awkward as ak
import numpy as np
import pandas as pd


def empty_airr(n_cells: int) -> ak.Array:
    """Receptor records for ``n_cells`` cells without any chain."""
    return ak.Array(ak.contents.ListOffsetArray(
        ak.index.Index64(np.zeros(n_cells + 1, dtype=np.int64)), ak.contents.EmptyArray()
    ))


def align_airr(records: ak.Array, record_cells: pd.Index, cells: Sequence[str]) -> ak.Array:
    """Reorder per-cell receptor records to ``cells``; cells without records get no chain.

    Parameters
    ----------
    records
        One list of chains per entry of ``record_cells``.
    record_cells
        The cell barcodes the records belong to.
    cells
        The barcodes to align to (for example those of the expression matrix).

    Returns
    -------
    One list of chains per entry of ``cells``.
    """
    position = record_cells.get_indexer(pd.Index(cells))
    if len(records) == 0:
        return empty_airr(len(position))
    no_chain = records[:1][:, :0]
    padded = ak.concatenate([records, no_chain])
    position = np.where(position < 0, len(records), position)
    return padded[position]


def harmonise_airr(arrays: Sequence[ak.Array]) -> list[ak.Array]:
    """Give per-cell receptor records from different sources one record type.

    Files read from 10x contig annotations and from AIRR rearrangement tables hold different
    fields; awkward would join them as a union type that scirpy cannot index. Every chain is
    given the union of fields (absent ones as missing values).

    Parameters
    ----------
    arrays
        Arrays of per-cell chain lists.

    Returns
    -------
    The same arrays, each with every field of any of them.
    """
    fields = sorted({f for array in arrays for f in ak.fields(array)})
    harmonised = []
    for array in arrays:
        counts = ak.num(array, axis=1)
        n_chains = int(ak.sum(counts))
        if n_chains == 0 or not fields:
            harmonised.append(empty_airr(len(array)))
            continue
        flat = ak.flatten(array, axis=1)
        present = set(ak.fields(flat))
        columns = {f: flat[f] if f in present else ak.Array([None] * n_chains) for f in fields}
        harmonised.append(ak.unflatten(ak.zip(columns, depth_limit=1), counts))
    return harmonised


def concat_airr(arrays: Sequence[ak.Array]) -> ak.Array:
    """Concatenate per-sample receptor records (cells after cells) into one record type.

    Parameters
    ----------
    arrays
        One array of per-cell chain lists per sample.

    Returns
    -------
    One list of chains per cell of all samples, in order.
    """
    return ak.concatenate(harmonise_airr(arrays), axis=0)


def merge_chains(arrays: Sequence[ak.Array]) -> ak.Array:
    """Join the chains of the same cells from several files (for example BCR and TCR).

    Parameters
    ----------
    arrays
        Arrays of equal length, aligned to the same cells.

    Returns
    -------
    For every cell, the chains of all arrays in order.
    """
    return ak.concatenate(harmonise_airr(arrays), axis=1) if len(arrays) > 1 else arrays[0]


def chain_table(records: ak.Array, fields: Sequence[str]) -> pd.DataFrame:
    """Flatten per-cell receptor records into one row per chain.

    Parameters
    ----------
    records
        One list of chains per cell (``.obsm["airr"]``).
    fields
        AIRR fields to keep; a field absent from the records becomes a column of missing values.

    Returns
    -------
    One row per chain with the column ``cell`` (the cell's position in ``records``) and the
    requested fields.
    """
    counts = ak.to_numpy(ak.num(records, axis=1))
    table = pd.DataFrame({"cell": np.repeat(np.arange(len(counts)), counts)})
    present = set(ak.fields(records))
    flat = ak.flatten(records, axis=1) if len(table) else None
    for field in fields:
        if flat is not None and field in present:
            table[field] = ak.to_list(flat[field])
        else:
            table[field] = pd.Series([None] * len(table), dtype=object)
    return table
