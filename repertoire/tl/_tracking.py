"""Clones over time: which clones seen before CAR-T come back after it."""

from __future__ import annotations

import numpy as np
import pandas as pd
from anndata import AnnData

from .. import _keys as K
from .._docs import doc_params
from .._errors import InputError
from .._logging import logger
from .._utils import require_obs, sample_metadata, store, writable
from ._stats import wilson_interval

BASELINE, AFTER, INFUSION = "baseline", "after", "infusion"


@doc_params
def track_clones(
    adata: AnnData,
    *,
    clone_key: str = K.CLONE,
    receptor: str = "BCR",
    patient_key: str = K.PATIENT,
    sample_key: str = K.SAMPLE,
    day_key: str = K.DAY,
    key_added: str = K.CLONE_TRACKING,
    inplace: bool = True,
) -> dict[str, pd.DataFrame] | None:
    """Follow each patient's baseline clones through the samples taken after infusion.

    A sample is ``baseline`` when taken before infusion (day < 0), ``after`` when taken after
    it (day > 0) and ``infusion`` on day 0. A clone is pre-existing when any of the patient's
    baseline samples (blood or marrow) holds it; every cell of an ``after`` sample is then
    pre-existing or new. Cells counted are those of ``receptor`` type with a clone, and, when
    ``.obs["lineage"]`` is present, of the B lineage (``B``, ``plasma``) for BCR or ``T`` for
    TCR. A patient without a baseline sample has no pre-existing clones to find: its
    fractions are NaN, not zero.

    Parameters
    ----------
    {adata}
        After :func:`repertoire.tl.clonotypes`.
    clone_key
        Column of ``.obs`` holding clones.
    receptor
        ``BCR`` or ``TCR`` (``.obs["receptor_type"]``).
    patient_key
        Column of ``.obs`` naming each cell's patient.
    sample_key
        Column of ``.obs`` naming each cell's sample.
    day_key
        Column of ``.obs`` with days relative to infusion (negative before it).
    {key_added}
    {inplace}

    Returns
    -------
    With ``inplace=False``, a dict of tables; otherwise ``None`` and they go to
    ``.uns[key_added]`` next to ``params``, with ``cells["preexisting"]`` also in
    ``.obs["preexisting"]`` (True or False for cells of ``after`` samples, NA otherwise):

    - ``samples``: one row per sample (``phase``, ``n_cells`` counted, ``n_preexisting`` and
      ``frac_preexisting`` of cells, ``n_clones``, ``n_preexisting_clones`` and
      ``frac_preexisting_clones``, each fraction with a Wilson 95% interval ``_lo``/``_hi``;
      zero-cell samples have NaN fractions);
    - ``clones``: one row per baseline clone (cells at baseline and after, ``returned``,
      ``first_day_after``, the ``timepoints_after`` it was seen at);
    - ``occurrences``: cells of baseline clones per sample, cell type and BCR state (tidy;
      NaN where ``.obs`` has no such column);
    - ``cells``: ``preexisting`` per cell.
    """
    require_obs(adata, clone_key, K.RECEPTOR_TYPE, hint="; run repertoire.tl.clonotypes first")
    require_obs(adata, patient_key, sample_key, day_key)
    if receptor not in ("BCR", "TCR"):
        raise InputError(f"receptor '{receptor}' is not BCR or TCR.")
    obs = adata.obs
    day = pd.to_numeric(obs[day_key], errors="coerce")
    phase = pd.Series(np.select([day < 0, day > 0, day == 0], [BASELINE, AFTER, INFUSION],
                                None), index=obs.index)
    counted = (obs[K.RECEPTOR_TYPE] == receptor) & obs[clone_key].notna()
    if K.LINEAGE in obs:
        counted &= obs[K.LINEAGE].isin(K.B_LINEAGES if receptor == "BCR" else ("T",))
    cells = pd.DataFrame({
        "patient": obs[patient_key].astype(str), "sample": obs[sample_key].astype(str),
        "clone": obs[clone_key].astype(object), "phase": phase, "day": day,
    })[counted.to_numpy()]
    baseline = cells[cells["phase"] == BASELINE]
    known = set(baseline["clone"])
    has_baseline = set(baseline["patient"])
    preexisting = pd.Series(pd.NA, index=obs.index, dtype="boolean")
    after = cells[(cells["phase"] == AFTER) & cells["patient"].isin(has_baseline)]
    preexisting.loc[after.index] = after["clone"].isin(known).to_numpy()
    tables = {
        K.TABLE_SAMPLES: writable(_samples(obs, cells, preexisting, has_baseline, phase,
                                           patient_key, sample_key, day_key)),
        K.TABLE_CLONES: writable(_clones(cells, known, obs, patient_key, clone_key)),
        K.TABLE_OCCURRENCES: writable(
            _occurrences(cells, known, obs, patient_key, sample_key, clone_key)
        ),
    }
    per_cell = pd.DataFrame({K.PREEXISTING: preexisting})
    summary = tables[K.TABLE_SAMPLES].loc[tables[K.TABLE_SAMPLES]["phase"] == AFTER]
    clones = tables[K.TABLE_CLONES]
    logger.info(
        "clone tracking: %d baseline %s clones, %d seen again; %d of %d cells after infusion "
        "pre-existing", len(clones), receptor, int(clones["returned"].sum()),
        int(summary["n_preexisting"].sum()), int(summary["n_cells"].sum()),
    )
    return store(
        adata, key_added, inplace=inplace, result={**tables, "cells": per_cell}, obs=per_cell,
        tables=tables,
        params={"clone_key": clone_key, "receptor": receptor, "patient_key": patient_key,
                "sample_key": sample_key, "day_key": day_key},
    )


def _samples(
    obs: pd.DataFrame, cells: pd.DataFrame, preexisting: pd.Series, has_baseline: set,
    phase: pd.Series, patient_key: str, sample_key: str, day_key: str,
) -> pd.DataFrame:
    table = sample_metadata(obs, sample_key)
    samples = table[sample_key]
    sample_phase = pd.Series(phase.to_numpy(), index=obs[sample_key].astype(str).to_numpy())
    table["phase"] = samples.map(sample_phase.groupby(level=0).first())
    patient_of = pd.Series(obs[patient_key].astype(str).to_numpy(),
                           index=obs[sample_key].astype(str).to_numpy())
    patient_of = patient_of.groupby(level=0).first()
    table["has_baseline"] = samples.map(patient_of).isin(has_baseline).to_numpy()
    flagged = pd.DataFrame({"sample": cells["sample"], "clone": cells["clone"],
                            "pre": preexisting.reindex(cells.index)})
    by_sample = flagged.groupby("sample")
    n_cells = by_sample.size()
    n_pre = by_sample["pre"].sum()
    n_clones = by_sample["clone"].nunique()
    n_pre_clones = flagged[flagged["pre"].fillna(False).astype(bool)].groupby("sample")[
        "clone"].nunique()
    table["n_cells"] = samples.map(n_cells).fillna(0).astype(int).to_numpy()
    table["n_preexisting"] = samples.map(n_pre).fillna(0).astype(int).to_numpy()
    table["n_clones"] = samples.map(n_clones).fillna(0).astype(int).to_numpy()
    table["n_preexisting_clones"] = samples.map(n_pre_clones).fillna(0).astype(int).to_numpy()
    defined = (table["phase"] == AFTER) & table["has_baseline"]
    for name, k, n in (("frac_preexisting", "n_preexisting", "n_cells"),
                       ("frac_preexisting_clones", "n_preexisting_clones", "n_clones")):
        trials = table[n].where(defined, 0).to_numpy(dtype=float)
        with np.errstate(invalid="ignore", divide="ignore"):
            table[name] = np.where(trials > 0, table[k] / trials, np.nan)
        table[f"{name}_lo"], table[f"{name}_hi"] = wilson_interval(table[k], trials)
    sort = [c for c in (patient_key, day_key, sample_key) if c in table]
    return table.sort_values(sort, ignore_index=True)


def _clones(
    cells: pd.DataFrame, known: set, obs: pd.DataFrame, patient_key: str, clone_key: str
) -> pd.DataFrame:
    columns = [patient_key, clone_key, "n_cells_baseline", "n_cells_after", "n_samples_after",
               "returned", "first_day_after", "timepoints_after"]
    mine = cells[cells["clone"].isin(known)]
    if mine.empty:
        return pd.DataFrame(columns=columns)
    timepoint = (obs[K.TIMEPOINT].astype(str).reindex(mine.index) if K.TIMEPOINT in obs
                 else mine["day"].astype(str))
    mine = mine.assign(timepoint=timepoint)
    later = mine[mine["phase"] == AFTER]
    grouped = mine.groupby("clone")
    table = pd.DataFrame({
        patient_key: grouped["patient"].first(),
        "n_cells_baseline": grouped["phase"].apply(lambda p: int((p == BASELINE).sum())),
    })
    by_clone = later.groupby("clone")
    table["n_cells_after"] = by_clone.size().reindex(table.index).fillna(0).astype(int)
    table["n_samples_after"] = (
        by_clone["sample"].nunique().reindex(table.index).fillna(0).astype(int)
    )
    table["returned"] = table["n_cells_after"] > 0
    table["first_day_after"] = by_clone["day"].min().reindex(table.index)
    ordered = later.sort_values("day")
    table["timepoints_after"] = ordered.groupby("clone")["timepoint"].agg(
        lambda t: ",".join(dict.fromkeys(t))).reindex(table.index)
    table = table.rename_axis(clone_key).reset_index()
    return table.sort_values([patient_key, "n_cells_after", clone_key],
                             ascending=[True, False, True], ignore_index=True)[columns]


def _occurrences(
    cells: pd.DataFrame, known: set, obs: pd.DataFrame, patient_key: str, sample_key: str,
    clone_key: str,
) -> pd.DataFrame:
    mine = cells[cells["clone"].isin(known)]
    labels = {
        column: (obs[column].astype(object) if column in obs
                 else pd.Series(np.nan, index=obs.index, dtype=object)).reindex(mine.index)
        for column in (K.CELL_TYPE, K.BCR_STATE)
    }
    table = pd.DataFrame({
        patient_key: mine["patient"], clone_key: mine["clone"], sample_key: mine["sample"],
        "phase": mine["phase"], "day": mine["day"], **labels,
    })
    keys = [patient_key, clone_key, sample_key, "phase", "day", K.CELL_TYPE, K.BCR_STATE]
    counts = table.groupby(keys, dropna=False).size().rename("n_cells").reset_index()
    meta = sample_metadata(obs, sample_key).drop(columns=[patient_key, K.DAY], errors="ignore")
    counts = counts.merge(meta, on=sample_key, how="left")
    return counts.sort_values([patient_key, clone_key, "day", sample_key], ignore_index=True)
