"""One function per result table; each names the tool to run when the table is missing."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import pandas as pd
from anndata import AnnData

from .. import _keys as K
from .._docs import doc_params
from .._errors import InputError
from .._utils import require_obs, require_result


def _table(adata: AnnData, key: str, name: str, producer: str) -> pd.DataFrame:
    return require_result(adata, key, name, producer).copy()


def _choice(name: str, value: str, allowed: Sequence[str]) -> None:
    if value not in allowed:
        raise InputError(f"{name} '{value}' is not one of {', '.join(allowed)}.")


@doc_params
def qc(adata: AnnData, *, key: str = K.QC) -> pd.DataFrame:
    """Quality control per sample.

    Parameters
    ----------
    {adata}
        After :func:`repertoire.pp.qc`.
    key
        Key of the QC record in ``.uns``.

    Returns
    -------
    One row per sample: cells, low-quality cells, doublets (Scrublet and receptor chains),
    cells flagged, and the adaptive thresholds of both steps.
    """
    return _table(adata, key, K.TABLE_SAMPLES, "repertoire.pp.qc")


@doc_params
def cluster_keys(adata: AnnData, *, key: str = K.LEIDEN) -> list[str]:
    """Names of the clusterings made by :func:`repertoire.tl.cluster`.

    Parameters
    ----------
    {adata}
        After :func:`repertoire.tl.cluster`.
    key
        Key of the clustering record in ``.uns``.

    Returns
    -------
    The ``.obs`` columns of the clusterings, one per resolution, in the order computed.
    """
    return list(require_result(adata, key, K.PARAMS, "repertoire.tl.cluster")["keys"])


@doc_params
def cluster_counts(adata: AnnData, *, keys: Sequence[str] | None = None) -> pd.DataFrame:
    """Cells per clustering, cluster and sample (a tidy table).

    Parameters
    ----------
    {adata}
        With ``.obs["sample_id"]`` and the clusterings named in ``keys``.
    keys
        Categorical ``.obs`` columns holding cluster labels; ``None`` takes those of
        :func:`cluster_keys`.

    Returns
    -------
    Columns ``clustering, cluster, sample_id, n_cells, fraction``, where ``fraction`` is the
    share of the sample's cells in that cluster; every cluster-sample pair appears, also with
    zero cells.
    """
    keys = cluster_keys(adata) if keys is None else list(keys)
    require_obs(adata, K.SAMPLE, *keys)
    tables = []
    for key in keys:
        counts = pd.crosstab(adata.obs[key], adata.obs[K.SAMPLE])
        fraction = counts / counts.sum(axis=0).replace(0, 1)
        table = counts.stack().rename("n_cells").to_frame()
        table["fraction"] = fraction.stack()
        table = table.rename_axis(["cluster", K.SAMPLE]).reset_index()
        table.insert(0, "clustering", key)
        tables.append(table)
    return pd.concat(tables, ignore_index=True)


@doc_params
def cell_types(adata: AnnData, *, groupby: str = K.CELL_TYPE) -> pd.DataFrame:
    """Cells per sample and label (see :func:`repertoire.tl.composition`).

    Parameters
    ----------
    {adata}
        After :func:`repertoire.tl.annotate`.
    groupby
        Column of ``.obs`` with the labels to count.

    Returns
    -------
    One row per sample and label, zero-cell pairs included.
    """
    from ..tl import composition

    return composition(adata, groupby=groupby)


@doc_params
def annotation(adata: AnnData, *, key: str = K.ANNOTATION) -> pd.DataFrame:
    """Return the marker evidence behind each cluster's and sub-cluster's label.

    Parameters
    ----------
    {adata}
        After :func:`repertoire.tl.annotate`.
    key
        Key of the annotation record in ``.uns``.

    Returns
    -------
    One row per cluster and sub-cluster: its label, score, runner-up, margin, confidence,
    panel coverage and the genes behind the call.
    """
    return _table(adata, key, K.TABLE_CLUSTERS, "repertoire.tl.annotate")


@doc_params
def car(adata: AnnData, *, key: str = K.CAR_DETECTED) -> pd.DataFrame:
    """CAR detection per sample.

    Parameters
    ----------
    {adata}
        After :func:`repertoire.tl.detect_car`.
    key
        Key of the CAR record in ``.uns``.

    Returns
    -------
    One row per sample (ambient CAR reads, threshold, CAR-detected cells and T cells); a table
    with only the ``sample_id`` column, and no rows, when the data held no CAR feature (then
    detection wrote nothing, by design).
    """
    if key not in adata.uns:
        return pd.DataFrame(columns=[K.SAMPLE])
    return _table(adata, key, K.TABLE_SAMPLES, "repertoire.tl.detect_car")


@doc_params
def bcr_states(
    adata: AnnData, table: Literal["states", "shm"] = "states", *, key: str = K.BCR_STATE
) -> pd.DataFrame:
    """B cells per receptor state and the evidence that decided it, or chains per SHM source.

    Parameters
    ----------
    {adata}
        After :func:`repertoire.tl.bcr_state`.
    table
        ``states`` (one row per state and evidence with its number of cells) or ``shm`` (one
        row per ``chain`` (heavy, light) and ``shm_source`` with ``n_chains``, and a ``note``
        saying why chains with the source ``none`` have no SHM).
    key
        Key of the state record in ``.uns``.

    Returns
    -------
    The table asked for.
    """
    _choice("table", table, (K.TABLE_STATES, K.TABLE_SHM))
    return _table(adata, key, table, "repertoire.tl.bcr_state")


@doc_params
def clones(adata: AnnData, *, key: str = K.CLONE) -> pd.DataFrame:
    """Clones and their sizes.

    Parameters
    ----------
    {adata}
        After :func:`repertoire.tl.clonotypes`.
    key
        Key of the clone record in ``.uns``.

    Returns
    -------
    One row per clone: patient, receptor, cells, samples.
    """
    return _table(adata, key, K.TABLE_CLONES, "repertoire.tl.clonotypes")


@doc_params
def diversity(adata: AnnData, *, key: str = K.DIVERSITY) -> pd.DataFrame:
    """Rarefied Hill numbers per sample.

    Parameters
    ----------
    {adata}
        After :func:`repertoire.tl.diversity`.
    key
        Key of the diversity record in ``.uns``.

    Returns
    -------
    One row per sample and order q.
    """
    return _table(adata, key, K.TABLE_SAMPLES, "repertoire.tl.diversity")


TRACKING_TABLES = (K.TABLE_SAMPLES, K.TABLE_CLONES, K.TABLE_OCCURRENCES)
RECONSTITUTION_TABLES = (K.TABLE_SAMPLES, K.TABLE_OUTCOMES, K.TABLE_TIMEPOINTS)


@doc_params
def clone_tracking(
    adata: AnnData,
    table: Literal["samples", "clones", "occurrences"] = "samples",
    *,
    key: str = K.CLONE_TRACKING,
) -> pd.DataFrame:
    """Baseline clones after infusion.

    Parameters
    ----------
    {adata}
        After :func:`repertoire.tl.track_clones`.
    table
        ``samples`` (pre-existing fractions per sample), ``clones`` (one row per baseline
        clone) or ``occurrences`` (cells of baseline clones per sample, cell type and state).
    key
        Key of the tracking record in ``.uns``.

    Returns
    -------
    The table asked for.
    """
    _choice("table", table, TRACKING_TABLES)
    return _table(adata, key, table, "repertoire.tl.track_clones")


@doc_params
def reconstitution(
    adata: AnnData,
    table: Literal["samples", "outcomes", "timepoints"] = "samples",
    *,
    key: str = K.RECONSTITUTION,
) -> pd.DataFrame:
    """B-cell reconstitution per sample and its patient-level tests.

    Parameters
    ----------
    {adata}
        After :func:`repertoire.tl.reconstitution`.
    table
        ``samples`` (one row per sample), ``outcomes`` (relapse against remission per
        tissue, timepoint and ``metric``, the columns of
        :func:`repertoire.tl.compare_outcomes`: ``effect`` on the empirical-logit scale,
        ``p`` with ``p_min``, ``q``) or ``timepoints`` (each timepoint against baseline).
    key
        Key of the reconstitution record in ``.uns``.

    Returns
    -------
    The table asked for.
    """
    _choice("table", table, RECONSTITUTION_TABLES)
    return _table(adata, key, table, "repertoire.tl.reconstitution")


@doc_params
def communication(
    adata: AnnData,
    table: Literal["interactions", "groups"] = "interactions",
    *,
    key: str = K.COMMUNICATION,
) -> pd.DataFrame:
    """Ligand-receptor interactions per sample, or the groups they were scored on.

    Parameters
    ----------
    {adata}
        After :func:`repertoire.tl.communication`.
    table
        ``interactions`` (one row per sample, sender, receiver and interaction, with the
        CellPhoneDB statistic and its within-sample specificity p) or ``groups`` (one row per
        sample and cell type: cells, whether scored, and mean expression of the resource's
        genes).
    key
        Key of the communication record in ``.uns``.

    Returns
    -------
    The table asked for.
    """
    _choice("table", table, (K.TABLE_INTERACTIONS, K.TABLE_GROUPS))
    return _table(adata, key, table, "repertoire.tl.communication")


@doc_params
def inputs(adata: AnnData, *, key: str = K.INPUTS) -> pd.DataFrame:
    """Return the input files of every sample, with their SHA-256 checksums.

    Parameters
    ----------
    {adata}
        As read by :func:`repertoire.io.read_cohort`.
    key
        Key of the input record in ``.uns``.

    Returns
    -------
    One row per sample and file: ``sample_id``, ``kind`` (``gex``, ``bcr``, ``tcr`` or
    ``spatial``), ``path`` and ``sha256``.
    """
    return _table(adata, key, K.TABLE_FILES, "repertoire.io.read_cohort")


@doc_params
def niche_scores(adata: AnnData, *, key: str = K.NICHE_SCORES) -> pd.DataFrame:
    """Named niche scores per sample, with their parts.

    Parameters
    ----------
    {adata}
        After :func:`repertoire.tl.niche_scores`.
    key
        Key of the niche record in ``.uns``.

    Returns
    -------
    One row per sample and niche.
    """
    return _table(adata, key, K.TABLE_SAMPLES, "repertoire.tl.niche_scores")


@doc_params
def communication_programmes(
    adata: AnnData,
    table: Literal["samples", "programmes"] = "samples",
    *,
    key: str = K.PROGRAMMES,
) -> pd.DataFrame:
    """Communication programmes: scores per sample, or each programme's top interactions.

    Parameters
    ----------
    {adata}
        After :func:`repertoire.tl.communication_programmes`.
    table
        ``samples`` (one row per sample and programme) or ``programmes`` (each programme's
        heaviest sender-receiver interactions).
    key
        Key of the programme record in ``.uns``.

    Returns
    -------
    The table asked for.
    """
    _choice("table", table, (K.TABLE_SAMPLES, K.TABLE_PROGRAMMES))
    return _table(adata, key, table, "repertoire.tl.communication_programmes")


SPATIAL_TABLES = (K.TABLE_SAMPLES, K.TABLE_PAIRS, K.TABLE_NEIGHBOURHOODS, K.TABLE_COMPOSITIONS,
                  K.TABLE_ABUNDANCES)


@doc_params
def spatial_niches(
    adata: AnnData,
    table: Literal["samples", "pairs", "neighbourhoods", "compositions", "abundances"] = (
        "samples"),
    *,
    key: str = K.SPATIAL_NICHES,
) -> pd.DataFrame:
    """Spatial niches per marrow section: enrichment, cellular neighbourhoods, distances.

    Parameters
    ----------
    {adata}
        After :func:`repertoire.tl.spatial_niches`.
    table
        ``samples`` (plasma-cell to sender distances and their reference, one row per
        section), ``pairs`` (squidpy's neighbourhood enrichment per section and pair of cell
        types), ``neighbourhoods`` (one row per cellular neighbourhood), ``compositions``
        (cell-type mix of each neighbourhood) or ``abundances`` (share of each neighbourhood
        in each section).
    key
        Key of the spatial-niche record in ``.uns``.

    Returns
    -------
    The table asked for; its ``graph`` column says whether it comes from coordinates
    (``spatial``) or from the expression neighbour graph (``expression``).
    """
    _choice("table", table, SPATIAL_TABLES)
    return _table(adata, key, table, "repertoire.tl.spatial_niches")


@doc_params
def niche_outcomes(
    adata: AnnData,
    table: Literal["outcomes", "patients"] = "outcomes",
    *,
    key: str = K.NICHE_OUTCOMES,
) -> pd.DataFrame:
    """Niche measures compared between relapsing and remitting patients.

    Parameters
    ----------
    {adata}
        After :func:`repertoire.tl.niche_outcomes`.
    table
        ``outcomes`` (one row per stratum, family, feature and measure: effect, interval,
        exact p beside the smallest possible p, q, rank) or ``patients`` (each patient's value
        behind every test).
    key
        Key of the niche outcome record in ``.uns``.

    Returns
    -------
    The table asked for.
    """
    _choice("table", table, (K.TABLE_OUTCOMES, K.TABLE_PATIENTS))
    return _table(adata, key, table, "repertoire.tl.niche_outcomes")
