"""Access to receptor chains in scirpy's model without touching the caller's AnnData."""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import awkward as ak
import numpy as np
import pandas as pd
from anndata import AnnData

from .. import _keys as K
from .._errors import InputError

HEAVY_LOCUS = "IGH"
VDJ_CHAINS = ("VDJ_1", "VDJ_2")
VJ_CHAINS = ("VJ_1", "VJ_2")
LIGHT_LOCI = ("IGK", "IGL")


def require_airr(adata: AnnData) -> None:
    """Raise :class:`InputError` when ``adata`` holds no receptor records."""
    if K.AIRR not in adata.obsm:
        raise InputError(
            f".obsm['{K.AIRR}'] is missing; read receptor data with repertoire.io.read_cohort "
            "or repertoire.io.read_vdj."
        )


def has_chains(adata: AnnData) -> bool:
    """Whether any cell carries a chain with a ``locus`` (false for a cohort in aplasia)."""
    airr = adata.obsm[K.AIRR]
    return "locus" in ak.fields(airr) and int(ak.sum(ak.num(airr, axis=1))) > 0


def receptor_view(adata: AnnData, obs: Sequence[str] = ()) -> AnnData:
    """Return an AnnData sharing ``adata``'s receptor records, with only the named ``obs``.

    scirpy functions write into the AnnData they are given; running them on this view keeps
    ``adata`` unchanged. Chain indices are reused when present and computed with
    :func:`scirpy.pp.index_chains` (scirpy's defaults: productive chains with a junction,
    ordered by UMI count) otherwise.
    """
    import scirpy as ir

    require_airr(adata)
    view = AnnData(obs=adata.obs[list(obs)].copy())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        view.obsm[K.AIRR] = _plain(adata.obsm[K.AIRR])
        if K.CHAIN_INDICES in adata.obsm:
            view.obsm[K.CHAIN_INDICES] = adata.obsm[K.CHAIN_INDICES]
        elif has_chains(adata):
            ir.pp.index_chains(view)
    return view


def _plain(records: ak.Array) -> ak.Array:
    """Return the records without anndata's view marker (records taken from a view)."""
    if ak.parameters(records).get("__list__") != "AwkwardArrayView":
        return records
    return ak.with_parameter(ak.with_parameter(records, "__list__", None), "_view_args", None)


def primary_heavy_chains(adata: AnnData, fields: Sequence[str]) -> pd.DataFrame:
    """AIRR fields of every cell's primary heavy chain.

    The primary heavy chain is the first IGH chain among scirpy's primary and secondary VDJ
    chains (``VDJ_1``, ``VDJ_2``), so the most expressed productive one. A B-T doublet whose
    TRB outranks its IGH keeps its IGH as the heavy chain.

    Returns one row per cell with a column ``chain`` (``VDJ_1``, ``VDJ_2`` or NaN without a
    heavy chain) and one column per field (NaN where the chain or the field is missing).
    """
    return primary_chains(adata, fields, (HEAVY_LOCUS,), VDJ_CHAINS)


def primary_light_chains(adata: AnnData, fields: Sequence[str]) -> pd.DataFrame:
    """AIRR fields of every cell's primary light chain (IGK or IGL among ``VJ_1``, ``VJ_2``).

    Returns the table of :func:`primary_heavy_chains` for light chains.
    """
    return primary_chains(adata, fields, LIGHT_LOCI, VJ_CHAINS)


def primary_chains(
    adata: AnnData, fields: Sequence[str], loci: Sequence[str], chains: Sequence[str]
) -> pd.DataFrame:
    """AIRR fields of the first of scirpy's ``chains`` (``VDJ_1``, ``VDJ_2``) in ``loci``."""
    import scirpy as ir

    table = pd.DataFrame(np.nan, index=adata.obs_names, columns=["chain", *fields], dtype=object)
    if not has_chains(adata):
        return table
    view = receptor_view(adata)
    available = [f for f in fields if f in ak.fields(adata.obsm[K.AIRR])]
    values = ir.get.airr(view, ["locus", *available], list(chains))
    first, second = chains
    in_first = values[f"{first}_locus"].isin(loci).to_numpy()
    in_second = ~in_first & values[f"{second}_locus"].isin(loci).to_numpy()
    table["chain"] = np.where(in_first, first, np.where(in_second, second, None))
    for field in available:
        table[field] = np.where(
            in_first, values[f"{first}_{field}"],
            np.where(in_second, values[f"{second}_{field}"], None),
        )
    return table.where(table.notna(), np.nan)
