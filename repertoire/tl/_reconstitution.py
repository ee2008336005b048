"""B-cell reconstitution per sample, from the transcriptome and the BCR side by side."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from anndata import AnnData

from .. import _keys as K
from .._docs import doc_params
from .._errors import InputError
from .._logging import logger
from .._utils import SAMPLE_COLUMNS, one_batch, require_obs, sample_metadata, store, writable
from ._labels import MEMORY_STATES, has_transcriptome_calls, transcriptome_calls
from ._outcomes import compare_outcomes, paired_tests
from ._stats import wilson_interval

SOURCES = ("tx", "bcr")
B_STATES = ("naive_transitional", *MEMORY_STATES)
# subset counted in the numerator of each fraction of B cells
SUBSETS = {
    "naive": ("naive_transitional",),
    "memory": MEMORY_STATES,
    "switched": ("memory_switched",),
    "DN": ("DN",),
}
# Healthy blood holds 50-150 B cells per 1000 mononuclear cells; below 5 (0.5%) the
# compartment is taken as absent. A working definition: set it to the study's own.
APLASIA_BELOW = 5.0
# columns of the tidy (long) form of the fractions that the patient-level tests read
METRIC, COUNT, DENOMINATOR = "metric", "count", "denominator"


def fraction_counts() -> dict[str, tuple[str, str]]:
    """Each fraction of the reconstitution table and its (count, denominator) columns."""
    counts = {"B_per_1000": ("n_B", "n_cells")}
    for source in SOURCES:
        for subset in SUBSETS:
            counts[f"frac_{subset}_{source}"] = (f"n_{subset}_{source}", f"n_B_{source}")
        counts[f"frac_plasma_{source}"] = (f"n_plasma_{source}", f"n_lineage_{source}")
    counts["frac_preexisting"] = ("n_preexisting", "n_tracked")
    counts["frac_car"] = ("n_car", "n_T")
    return counts


DEFAULT_METRICS = (
    "B_per_1000", "frac_naive_tx", "frac_naive_bcr", "frac_memory_tx", "frac_memory_bcr",
    "frac_switched_tx", "frac_switched_bcr", "frac_DN_tx", "frac_plasma_tx", "frac_preexisting",
    "frac_car",
)


@doc_params
@one_batch("sample_key")
def reconstitution(
    adata: AnnData,
    *,
    sample_key: str = K.SAMPLE,
    aplasia_below: float = APLASIA_BELOW,
    reference_timepoint: str = "baseline",
    metrics: Sequence[str] = DEFAULT_METRICS,
    n_boot: int = 2000,
    random_state: int = 0,
    key_added: str = K.RECONSTITUTION,
    inplace: bool = True,
) -> dict[str, pd.DataFrame] | None:
    """Measure B-cell reconstitution and CAR-T kinetics per sample, and test them per patient.

    **Per sample** (one row each, a sample without B cells included):

    - ``n_cells``; ``n_B`` (``.obs["lineage"] == "B"``: CD19+ B cells, the CAR target;
      plasma cells, which survive CD19 CAR-T, are counted apart in ``n_plasma``) and
      ``B_per_1000``; ``aplasia`` when ``B_per_1000 < aplasia_below``;
    - subset fractions **side by side**, from the transcriptome (suffix ``_tx``: the state of
      ``.obs["cell_type"]``) and from the receptor (suffix ``_bcr``: ``.obs["bcr_state"]`` of
      B-lineage cells whose heavy chain gave an isotype or an SHM rate). ``frac_naive``,
      ``frac_memory`` (unswitched, switched and DN), ``frac_switched`` and ``frac_DN`` are
      shares of the B cells with a state (``n_B_tx``, ``n_B_bcr``); ``frac_plasma`` is the
      share of plasma cells among them plus plasma cells (``n_lineage_*``). Side by side in
      one row, the two measurements of the same sample compare at a glance and the table stays
      one row per sample; the counts (``n_naive_tx``, ...) are kept for the tests;
    - ``mean_shm`` of B cells (not plasma cells) with an SHM rate (``n_shm``);
    - ``frac_preexisting``: share of tracked B-lineage cells after infusion whose clone was seen
      at baseline (``.obs["preexisting"]`` of :func:`repertoire.tl.track_clones`; NaN without);
    - CAR-T kinetics: ``frac_car``, the CAR-detected share of T cells (``n_car`` of ``n_T``;
      NaN without ``.obs["car_detected"]``).

    Every fraction has a Wilson 95% interval (``_lo``, ``_hi``; ``B_per_1000`` too, per 1000);
    a zero denominator gives NaN, never an error. Without ``.obs["lineage"]``/``["cell_type"]``
    (receptor-only data) the ``_tx`` columns are NaN and ``n_B`` counts B cells with a BCR state.

    **Per patient** (BIOLOGY.md: the patient is the unit): within each tissue and timepoint,
    relapse against remission patients (``outcomes``, by :func:`repertoire.tl.compare_outcomes`
    on the counts of each metric summed per patient: ``effect`` is the difference of mean
    empirical logits, offset 0.5, exact p over every relabeling of outcomes with the minimum
    attainable ``p_min`` beside it, patient-level bootstrap interval ``effect_lo``/``effect_hi``,
    Benjamini-Hochberg ``q`` over the metrics of the stratum), and within patients each
    timepoint against ``reference_timepoint`` (``timepoints``: mean change of empirical logit,
    exact sign flip, for all patients and for each outcome; unadjusted). p-values are two-sided.

    Parameters
    ----------
    {adata}
        With ``.obs["lineage"]``, ``["cell_type"]``, ``["car_detected"]`` where available, and
        after :func:`repertoire.tl.bcr_state` and :func:`repertoire.tl.track_clones`.
    sample_key
        Column of ``.obs`` naming each cell's sample. Absent from ``.obs`` (one sample on its
        own), all cells are one sample, ``"all"``, and there are no outcome comparisons.
    aplasia_below
        B cells per 1000 cells below which a sample is in B-cell aplasia.
    reference_timepoint
        Timepoint every other one is compared with within patients.
    metrics
        Fractions tested between outcomes and timepoints (columns of the sample table).
    n_boot
        Bootstrap resamples of patients for each interval.
    {random_state}
    {key_added}
    {inplace}

    Returns
    -------
    With ``inplace=False``, a dict with the tables ``samples``, ``outcomes`` and
    ``timepoints``. Otherwise ``None``; they go to ``.uns[key_added]`` next to ``params``.
    """
    require_obs(adata, sample_key)
    known = fraction_counts()
    unknown = [m for m in metrics if m not in known]
    if unknown:
        raise InputError(f"metric '{unknown[0]}' is not one of {', '.join(known)}.")
    samples = sample_table(adata, sample_key=sample_key, aplasia_below=aplasia_below)
    counts = long_counts(samples, {m: known[m] for m in metrics}, sample_key=sample_key)
    obs = adata.obs
    outcomes = timepoints = pd.DataFrame()
    strata = [c for c in (K.TISSUE, K.TIMEPOINT) if c in samples]
    if K.PATIENT in samples and K.OUTCOME in samples:
        outcomes = compare_outcomes(
            counts, feature_key=METRIC, value_key=COUNT, total_key=DENOMINATOR,
            sample_key=sample_key, strata=strata, n_boot=n_boot, random_state=random_state,
        )
        outcomes.attrs = {}  # recorded in params below
    if K.PATIENT in samples and K.TIMEPOINT in samples:
        if (samples[K.TIMEPOINT] == reference_timepoint).any():
            timepoints = paired_tests(
                counts, feature_key=METRIC, value_key=COUNT, total_key=DENOMINATOR,
                patient_key=K.PATIENT, time_key=K.TIMEPOINT, reference=reference_timepoint,
                strata=[c for c in (K.TISSUE,) if c in samples],
                outcome_key=K.OUTCOME if K.OUTCOME in samples else None, n_boot=n_boot,
                random_state=random_state,
            )
        else:
            logger.warning("no sample at reference timepoint '%s'; no within-patient tests",
                           reference_timepoint)
    logger.info("reconstitution: %d samples, %d in aplasia", len(samples),
                int(samples["aplasia"].sum()))
    tables = {name: writable(table) for name, table in (
        (K.TABLE_SAMPLES, samples), (K.TABLE_OUTCOMES, outcomes),
        (K.TABLE_TIMEPOINTS, timepoints),
    )}
    return store(
        adata, key_added, inplace=inplace, result=tables, tables=tables,
        params={"sample_key": sample_key, "aplasia_below": aplasia_below,
                "reference_timepoint": reference_timepoint, "metrics": list(metrics),
                "n_boot": n_boot, "random_state": random_state,
                "transcriptome": has_transcriptome_calls(obs),
                "bcr": K.BCR_STATE in obs, "car": K.CAR_DETECTED in obs,
                "n_B_source": "lineage" if K.LINEAGE in obs else "bcr_state",
                "fractions": fraction_counts()},
    )


def long_counts(
    samples: pd.DataFrame, fractions: dict[str, tuple[str, str]], *, sample_key: str
) -> pd.DataFrame:
    """Return ``fractions`` of the sample table in tidy form: one row per sample and metric.

    Columns: the sample's metadata, ``metric``, ``count`` and ``denominator``; metrics in the
    order given, samples in the table's order within each.
    """
    meta = [c for c in (sample_key, *SAMPLE_COLUMNS) if c in samples]
    blocks = [
        samples[meta].assign(**{METRIC: name, COUNT: samples[k], DENOMINATOR: samples[n]})
        for name, (k, n) in fractions.items()
    ]
    if not blocks:
        return pd.DataFrame(columns=[*meta, METRIC, COUNT, DENOMINATOR])
    return pd.concat(blocks, ignore_index=True)


def sample_table(adata: AnnData, *, sample_key: str, aplasia_below: float) -> pd.DataFrame:
    """Return the per-sample table of :func:`reconstitution` (without the tests)."""
    obs = adata.obs
    sample = obs[sample_key].astype(str)
    cells = pd.DataFrame(index=obs.index)
    cells["sample"] = sample
    tx = transcriptome_calls(obs)
    cells["state_tx"] = tx["state"]
    cells["state_bcr"] = _bcr_states(obs)
    table = sample_metadata(obs, sample_key)
    samples = table[sample_key]

    def count(mask: pd.Series | np.ndarray) -> np.ndarray:
        per_sample = pd.Series(np.asarray(mask, dtype=bool), index=obs.index).groupby(sample).sum()
        return samples.map(per_sample).fillna(0).astype(int).to_numpy()

    table["n_cells"] = count(np.ones(len(obs), dtype=bool))
    lineage_known = K.LINEAGE in obs or K.CELL_TYPE in obs
    for source in SOURCES:
        state = cells[f"state_{source}"]
        table[f"n_B_{source}"] = count(state.isin(B_STATES))
        table[f"n_plasma_{source}"] = count(state == "plasma")
        table[f"n_lineage_{source}"] = table[f"n_B_{source}"] + table[f"n_plasma_{source}"]
        for subset, states in SUBSETS.items():
            table[f"n_{subset}_{source}"] = count(state.isin(states))
    if lineage_known:
        table["n_B"] = count(tx["lineage"] == "B")
        table["n_plasma"] = count(tx["lineage"] == "plasma")
    else:
        table["n_B"] = table["n_B_bcr"]
        table["n_plasma"] = table["n_plasma_bcr"]
    is_t = (tx["lineage"] == "T").to_numpy()
    table["n_T"] = count(is_t)
    car = (obs[K.CAR_DETECTED].astype("boolean").fillna(False).to_numpy(dtype=bool)
           if K.CAR_DETECTED in obs else np.zeros(len(obs), dtype=bool))
    table["n_car"] = count(car & is_t)
    preexisting = obs.get(K.PREEXISTING)
    if preexisting is not None:
        flag = preexisting.astype("boolean")
        table["n_tracked"] = count(flag.notna())
        table["n_preexisting"] = count(flag.fillna(False))
    else:
        table["n_tracked"] = table["n_preexisting"] = 0
    _shm(table, obs, cells, samples)
    for name, (k, n) in fraction_counts().items():
        scale = 1000.0 if name == "B_per_1000" else 1.0
        with np.errstate(invalid="ignore", divide="ignore"):
            table[name] = np.where(table[n] > 0, scale * table[k] / table[n], np.nan)
        low, high = wilson_interval(table[k], table[n])
        table[f"{name}_lo"], table[f"{name}_hi"] = scale * low, scale * high
    if K.CAR_DETECTED not in obs:
        table[["frac_car", "frac_car_lo", "frac_car_hi"]] = np.nan
    table["aplasia"] = (table["n_B"] == 0) | (table["B_per_1000"] < aplasia_below)
    sort = [c for c in (K.PATIENT, K.DAY, sample_key) if c in table]
    return table.sort_values(sort, ignore_index=True)


def _bcr_states(obs: pd.DataFrame) -> pd.Series:
    """``bcr_state`` of B-lineage cells whose heavy chain gave an isotype or an SHM rate."""
    if K.BCR_STATE not in obs:
        return pd.Series(np.nan, index=obs.index, dtype=object)
    receptor = pd.Series(False, index=obs.index)
    for column in (K.ISOTYPE, K.SHM_RATE):
        if column in obs:
            receptor |= obs[column].notna()
    state = obs[K.BCR_STATE].astype(object).where(receptor)
    if K.LINEAGE in obs:
        state = state.where(obs[K.LINEAGE].isin(K.B_LINEAGES))
    return state


def _shm(table: pd.DataFrame, obs: pd.DataFrame, cells: pd.DataFrame, samples: pd.Series) -> None:
    if K.SHM_RATE not in obs:
        table["n_shm"], table["mean_shm"] = 0, np.nan
        return
    shm = pd.to_numeric(obs[K.SHM_RATE], errors="coerce")
    values = shm.where(cells["state_bcr"].isin(B_STATES) & shm.notna())
    grouped = values.groupby(cells["sample"])
    table["n_shm"] = samples.map(grouped.count()).fillna(0).astype(int).to_numpy()
    table["mean_shm"] = samples.map(grouped.mean()).to_numpy(dtype=float)
