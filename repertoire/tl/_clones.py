"""Clonotypes through scirpy, within each patient: B-cell clusters and T-cell identity."""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd
from anndata import AnnData

from .. import _keys as K
from .._docs import doc_params
from .._errors import InputError
from .._logging import logger, progress
from .._utils import one_batch, require_obs, store
from ._receptor import has_chains, receptor_view

# Junctions of one B-cell clone differ by somatic hypermutation; 15% of positions (scirpy's
# normalised Hamming distance, in percent) is the usual cut (BIOLOGY.md; Gupta et al.,
# Bioinformatics 2017, cluster heavy-chain junctions of equal length at about 0.15).
BCR_CUTOFF = 15
EXPANSION_BREAKPOINTS = (1, 2)
RECEPTORS = {"BCR": "B", "TCR": "T"}


@doc_params
@one_batch("patient_key", "sample_key")
def clonotypes(
    adata: AnnData,
    *,
    patient_key: str = K.PATIENT,
    sample_key: str = K.SAMPLE,
    bcr_cutoff: int = BCR_CUTOFF,
    breakpoints: Sequence[int] = EXPANSION_BREAKPOINTS,
    n_jobs: int = 1,
    key_added: str = K.CLONE,
    inplace: bool = True,
) -> pd.DataFrame | None:
    """Define B- and T-cell clones within each patient with scirpy.

    :func:`scirpy.tl.chain_qc` sorts cells into BCR, TCR and ambiguous receptors. Then, one
    patient at a time (clones are never shared across patients; ``within_group`` is the
    patient as well):

    - **BCR**: :func:`scirpy.pp.ir_dist` with the ``normalized_hamming`` metric on junction
      nucleotides, then :func:`scirpy.tl.define_clonotype_clusters` on the heavy chain
      (``receptor_arms="VDJ"``, ``dual_ir="primary_only"``) with ``same_v_gene`` and
      ``same_j_gene``. The normalised Hamming distance compares junctions of equal length only,
      so a clone is: same V gene, same J gene, same junction length, and junctions differing at
      no more than ``bcr_cutoff`` percent of positions, which is the definition of BIOLOGY.md
      and of Change-O's hierarchical clustering (Gupta et al., Bioinformatics 2017). Levenshtein
      distance would join junctions of different lengths, which somatic hypermutation (point
      mutations) does not make. The heavy chain alone is used because light chains are
      often not recovered (requiring both splits clones) and the heavy junction carries the
      clone's identity.
    - **TCR**: :func:`scirpy.tl.define_clonotypes`, identical junction nucleotides (scirpy's
      defaults: both receptor arms, any of dual chains).

    Clone sizes count the patient's cells across samples; expansion classes come from
    :func:`scirpy.tl.clonal_expansion` within each sample.

    Parameters
    ----------
    {adata}
    patient_key
        Column of ``.obs`` naming each cell's patient. Absent from ``.obs`` (one sample on its
        own), all cells are one patient, ``"all"``.
    sample_key
        Column of ``.obs`` naming each cell's sample (expansion is counted per sample). Absent
        from ``.obs``, all cells are one sample, ``"all"``.
    bcr_cutoff
        Largest normalised Hamming distance (percent of junction positions) within a B-cell
        clone.
    breakpoints
        Clone sizes at which expansion classes change (scirpy's; ``(1, 2)`` gives ``<= 1``,
        ``<= 2`` and ``> 2``).
    n_jobs
        Worker threads of the distance computation.
    {key_added}
        ``.obs[key_added]`` holds the clone, ``f"{{key_added}}_size"`` its size.

    {inplace}

    Returns
    -------
    With ``inplace=False``, a table indexed like ``.obs`` with columns ``receptor_type``
    (scirpy's ``BCR``, ``TCR``, ``ambiguous``, ``multichain`` or ``no IR``), ``key_added``
    (``{{patient}}_B{{n}}`` or ``{{patient}}_T{{n}}``, numbered by size within the patient;
    NaN without a clone), ``f"{{key_added}}_size"`` and ``clonal_expansion``. Otherwise
    ``None``; the columns go to ``.obs`` and ``.uns[key_added]`` holds ``clones`` (one row per
    clone: patient, receptor, cells, samples) and ``params``.
    """
    require_obs(adata, patient_key, sample_key)
    if bcr_cutoff < 0:
        raise InputError(f"bcr_cutoff must not be negative (got {bcr_cutoff}).")
    view = receptor_view(adata, obs=[patient_key, sample_key])
    table = pd.DataFrame(index=adata.obs_names)
    table[K.RECEPTOR_TYPE] = _receptor_types(view)
    clone = pd.Series(np.nan, index=adata.obs_names, dtype=object)
    patients = view.obs[patient_key].astype(str)
    for receptor, letter in progress(RECEPTORS.items(), desc="clonotypes"):
        cells = (table[K.RECEPTOR_TYPE] == receptor).to_numpy()
        if cells.any():
            clusters = _clusters(view[cells].copy(), receptor, bcr_cutoff, patient_key, n_jobs)
            clone.loc[clusters.index] = _name_by_size(clusters, patients[clusters.index], letter)
    size_key = f"{key_added}_size"
    table[key_added] = pd.Categorical(clone)
    table[size_key] = clone.map(clone.value_counts()).astype("Int64")
    table[K.EXPANSION] = _expansion(table[key_added], view.obs[sample_key], breakpoints)
    clones = _clone_table(table, view.obs, key_added, patient_key, sample_key)
    logger.info(
        "clonotypes: %d B-cell and %d T-cell clones",
        int((clones["receptor"] == "BCR").sum()), int((clones["receptor"] == "TCR").sum()),
    )
    return store(
        adata, key_added, inplace=inplace, result=table, obs=table,
        tables={K.TABLE_CLONES: clones},
        params={"patient_key": patient_key, "sample_key": sample_key, "bcr_cutoff": bcr_cutoff,
                "bcr_metric": "normalized_hamming", "bcr_sequence": "nt",
                "bcr_receptor_arms": "VDJ", "bcr_dual_ir": "primary_only",
                "same_v_gene": True, "same_j_gene": True, "tcr_metric": "identity",
                "breakpoints": list(breakpoints), "n_jobs": n_jobs},
    )


def _receptor_types(view: AnnData) -> pd.Series:
    import scirpy as ir

    if not has_chains(view):
        return pd.Series("no IR", index=view.obs_names, dtype=object)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        types = ir.tl.chain_qc(view, inplace=False)[0]
    return pd.Series(np.asarray(types, dtype=object), index=view.obs_names)


def _clusters(
    cells: AnnData, receptor: str, cutoff: int, patient_key: str, n_jobs: int
) -> pd.Series:
    """Scirpy's clone numbers of one patient's cells with one receptor type."""
    import scirpy as ir

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if receptor == "BCR":
            ir.pp.ir_dist(cells, metric="normalized_hamming", sequence="nt", cutoff=cutoff,
                          n_jobs=n_jobs)
            ir.tl.define_clonotype_clusters(
                cells, sequence="nt", metric="normalized_hamming", receptor_arms="VDJ",
                dual_ir="primary_only", same_v_gene=True, same_j_gene=True,
                within_group=patient_key, key_added="clone", n_jobs=n_jobs,
            )
        else:
            ir.tl.define_clonotypes(cells, within_group=patient_key, key_added="clone",
                                    n_jobs=n_jobs)
    return cells.obs["clone"].dropna().astype(str)


def _name_by_size(clusters: pd.Series, patients: pd.Series, letter: str) -> pd.Series:
    """Name clusters ``{patient}_{letter}1, 2, ...`` from the largest within each patient.

    Ties keep scirpy's cluster order, so names are deterministic.
    """
    table = pd.DataFrame({"cluster": clusters, "patient": patients})
    sizes = table.groupby(["patient", "cluster"]).size().rename("size").reset_index()
    sizes["number"] = pd.to_numeric(sizes["cluster"], errors="coerce")
    sizes = sizes.sort_values(["patient", "size", "number", "cluster"],
                              ascending=[True, False, True, True])
    sizes["rank"] = sizes.groupby("patient").cumcount() + 1
    names = dict(zip(sizes["cluster"], sizes["patient"] + f"_{letter}" + sizes["rank"].astype(str),
                     strict=True))
    return clusters.map(names)


def _expansion(clone: pd.Series, sample: pd.Series, breakpoints: Sequence[int]) -> pd.Categorical:
    import scirpy as ir

    labels = [f"<= {b}" for b in breakpoints] + [f"> {breakpoints[-1]}"]
    if clone.isna().all():  # no clone anywhere (a cohort in aplasia): scirpy cannot count
        return pd.Categorical([np.nan] * len(clone), categories=labels)
    obs = pd.DataFrame({"clone": clone.astype(object), "sample": sample.astype(str)})
    shell = AnnData(obs=obs)
    classes = ir.tl.clonal_expansion(shell, target_col="clone", expanded_in="sample",
                                     breakpoints=tuple(breakpoints), inplace=False)
    return pd.Categorical(classes.astype(str).replace("nan", np.nan), categories=labels)


def _clone_table(
    table: pd.DataFrame, obs: pd.DataFrame, key: str, patient_key: str, sample_key: str
) -> pd.DataFrame:
    cells = pd.DataFrame({
        key: table[key].astype(object), "receptor": table[K.RECEPTOR_TYPE],
        patient_key: obs[patient_key].astype(str), sample_key: obs[sample_key].astype(str),
    }).dropna(subset=[key])
    columns = [key, patient_key, "receptor", "n_cells", "n_samples"]
    if cells.empty:
        return pd.DataFrame(columns=columns)
    grouped = cells.groupby(key, sort=False)
    clones = pd.DataFrame({
        patient_key: grouped[patient_key].first(), "receptor": grouped["receptor"].first(),
        "n_cells": grouped.size(), "n_samples": grouped[sample_key].nunique(),
    }).rename_axis(key).reset_index()
    clones["rank"] = clones[key].str.extract(r"(\d+)$", expand=False).astype(int)
    return clones.sort_values([patient_key, "receptor", "rank"], ignore_index=True)[columns]
