"""Patient-level comparisons of any tidy per-sample table: between outcomes, and over time.

The patient is the experimental unit (BIOLOGY.md, statistics with few patients): every test
here first reduces the table to ONE value per patient (:func:`per_patient`), then runs the exact
tests of :mod:`repertoire.tl._stats` on those values.

- :func:`compare_outcomes` (public): case against control patients per feature and stratum,
  exact over every relabeling of the patients' outcomes, with the minimum attainable p, a
  patient-level bootstrap interval and Benjamini-Hochberg q-values.
- :func:`paired_tests`: every timepoint against a reference within patients, by exact sign
  flipping (used by :func:`repertoire.tl.reconstitution`).
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence

import numpy as np
import pandas as pd

from .. import _keys as K
from .._docs import doc_params
from .._errors import InputError
from .._logging import logger
from .._utils import record
from ._stats import (
    _check_alternative,
    benjamini_hochberg,
    bootstrap_interval,
    empirical_logit,
    label_permutation_test,
    sign_flip_test,
)

OFFSET = 0.5
# the columns of compare_outcomes after the strata and the feature column
RESULT_COLUMNS = ("n_case", "n_control", "mean_case", "mean_control", "effect", "effect_lo",
                  "effect_hi", "p", "p_min", "q", "n_relabelings", "exact")
_LABEL = "_outcome"


def _difference(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return a.mean(axis=-1) - b.mean(axis=-1)


def _mean(a: np.ndarray) -> np.ndarray:
    return a.mean(axis=-1)


# checks and aggregation shared by every patient-level test ------------------------------------


def check_table(
    table: object, columns: Sequence[str], *, sample_key: str, feature_key: str | None
) -> None:
    """Refuse what is not a tidy per-sample table: missing columns, cells as rows.

    Raises :class:`InputError` naming the first missing column, or the first sample with more
    than one row for a feature (an ``.obs`` frame, a table of cells).
    """
    if not isinstance(table, pd.DataFrame):
        raise InputError(
            f"expected a tidy per-sample table (pandas DataFrame), not {type(table).__name__}; "
            "for example repertoire.get.reconstitution(adata)."
        )
    for column in dict.fromkeys(columns):
        if column not in table.columns:
            raise InputError(f"column '{column}' is not in the table.")
    unit = [sample_key] + ([feature_key] if feature_key else [])
    repeated = table.duplicated(unit, keep=False)
    if repeated.any():
        sizes = table.loc[repeated].groupby(unit, observed=True, dropna=False, sort=False).size()
        first = sizes.index[0] if len(unit) > 1 else (sizes.index[0],)
        where = " and ".join(f"{c} '{v}'" for c, v in zip(unit, first, strict=True))
        raise InputError(
            f"the table holds {sizes.iloc[0]} rows for {where}: the patient is the unit of an "
            "outcome test, not the cell, so aggregate per sample first (one row per sample and "
            "feature)."
        )


def per_patient(
    table: pd.DataFrame,
    by: Sequence[str],
    *,
    patient_key: str,
    value_key: str,
    total_key: str | None = None,
    offset: float = OFFSET,
) -> pd.DataFrame:
    """One value per patient within each group of ``by`` (feature, stratum, timepoint...).

    Without ``total_key`` the patient's samples are averaged (``value`` and ``natural`` are that
    mean). With ``total_key``, ``value_key`` is a count out of ``total_key``: the patient's counts
    and totals are summed, ``natural`` is their proportion and ``value`` its empirical logit with
    ``offset``. Rows without a value (NaN) are dropped first, and patients whose total is zero
    after them. Rows come sorted by ``by`` and patient; missing keys in ``by`` form their own
    group.
    """
    keys = [*by, patient_key]
    if total_key is None:
        data = table[keys].assign(_value=_numeric(table, value_key)).dropna(subset=["_value"])
        out = data.groupby(keys, observed=True, dropna=False, sort=True)["_value"].mean()
        out = out.to_frame("value")
        out["natural"] = out["value"]
    else:
        k, n = _numeric(table, value_key), _numeric(table, total_key)
        if ((k < 0) | (n < 0) | (k > n)).any():
            raise InputError(
                f"column '{value_key}' must hold counts between 0 and the '{total_key}' beside "
                "them."
            )
        data = table[keys].assign(_k=k, _n=n).dropna(subset=["_k", "_n"])
        out = data.groupby(keys, observed=True, dropna=False, sort=True)[["_k", "_n"]].sum()
        out = out[out["_n"] > 0]
        out["value"] = empirical_logit(out["_k"], out["_n"], offset)
        out["natural"] = out["_k"] / out["_n"]
    return out.reset_index()[[*keys, "value", "natural"]]


def _numeric(table: pd.DataFrame, column: str) -> pd.Series:
    """``table[column]`` as floats: numbers, booleans, or categoricals and objects of numbers."""
    values = table[column]
    if isinstance(values.dtype, pd.CategoricalDtype):  # sample metadata from .obs
        values = values.astype(object)
    if pd.api.types.is_bool_dtype(values.dtype):
        return values.astype(float)
    try:
        return pd.to_numeric(values, errors="raise").astype(float)
    except (TypeError, ValueError) as error:
        raise InputError(f"column '{column}' is not numeric.") from error


def patient_outcomes(table: pd.DataFrame, patient_key: str, outcome_key: str) -> pd.Series:
    """Each patient's outcome; :class:`InputError` when one patient has two."""
    labels = table[[patient_key, outcome_key]].dropna().astype(object).drop_duplicates()
    twice = labels[labels[patient_key].duplicated(keep=False)]
    if not twice.empty:
        patient = twice[patient_key].iloc[0]
        found = ", ".join(map(str, twice.loc[twice[patient_key] == patient, outcome_key]))
        raise InputError(
            f"patient '{patient}' has more than one {outcome_key} ({found}); an outcome belongs "
            "to the patient."
        )
    return labels.set_index(patient_key)[outcome_key]


def landmark_samples(
    table: pd.DataFrame,
    landmark: float | tuple[float, float],
    *,
    patient_key: str,
    day_key: str,
    timepoint_key: str,
    relapse_timepoint: str,
    cases: Sequence[Hashable] = (),
) -> pd.DataFrame:
    """Keep the rows of samples inside the landmark window and before the patient's relapse.

    ``landmark`` ``L`` is the window ``0 < day <= L`` (``(start, end)``: ``start < day <= end``),
    in days after infusion. A patient's relapse visit is their earliest sample (any tissue)
    whose ``timepoint_key`` is ``relapse_timepoint``; that sample and every later one are
    dropped. ``cases`` without a relapse visit keep their samples inside the window, with a
    warning: their relapse day is unknown here.
    """
    try:
        if np.ndim(landmark) == 0:
            start, end = 0.0, float(landmark)
        else:
            start, end = (float(v) for v in landmark)
    except (TypeError, ValueError) as error:
        raise InputError(
            f"landmark must be a number of days or (start, end), not {landmark!r}."
        ) from error
    if not end > start:
        raise InputError(f"landmark window ({start:g}, {end:g}] holds no day.")
    day = _numeric(table, day_key)
    visit = day.where(table[timepoint_key].astype(object) == relapse_timepoint)
    relapse_day = visit.groupby(table[patient_key].astype(object)).min()
    relapse = table[patient_key].astype(object).map(relapse_day).astype(float)
    inside = (day > start) & (day <= end)
    keep = inside & ~(day >= relapse)
    unknown = sorted(str(p) for p in set(cases) - set(relapse_day.dropna().index))
    if unknown:
        logger.warning("landmark: no '%s' visit for case patient(s) %s; their samples in the "
                       "window are kept", relapse_timepoint, ", ".join(unknown))
    logger.info("landmark (%g, %g] days: kept %d of %d rows (%d outside the window, %d on or "
                "after a relapse visit)", start, end, int(keep.sum()), len(table),
                int((~inside).sum()), int((inside & ~keep).sum()))
    return table[keep.to_numpy()]


# between outcomes -------------------------------------------------------------------------------


@doc_params
def compare_outcomes(
    table: pd.DataFrame,
    *,
    feature_key: str = "niche",
    value_key: str = "score",
    total_key: str | None = None,
    sample_key: str = K.SAMPLE,
    patient_key: str = K.PATIENT,
    outcome_key: str = K.OUTCOME,
    strata: Sequence[str] = (K.TISSUE, K.TIMEPOINT),
    case: str = "relapse",
    control: str = "remission",
    landmark: float | tuple[float, float] | None = None,
    day_key: str = K.DAY,
    timepoint_key: str = K.TIMEPOINT,
    relapse_timepoint: str = "relapse",
    alternative: str = "two-sided",
    offset: float = OFFSET,
    n_boot: int = 2000,
    random_state: int = 0,
) -> pd.DataFrame:
    """Compare case with control patients for every feature of a tidy per-sample table.

    The patient is the unit (BIOLOGY.md; Squair et al., Nat Commun 2021). Within each stratum
    (by default each tissue and timepoint) and feature, each patient gets ONE value: the mean of
    their samples there, or, with ``total_key``, the empirical logit (offset ``offset``) of their
    summed counts over their summed totals. Then, case against control patients:

    - ``effect``: difference of the patient means, case minus control; on the empirical-logit
      scale with ``total_key`` (a log odds ratio), otherwise on the scale of ``value_key``;
    - ``effect_lo``, ``effect_hi``: 95% percentile interval over ``n_boot`` bootstrap resamples
      of patients, case and control patients each resampled on their own;
    - ``p``: exact over every relabeling of the patients' outcomes (C(11, 2) = 55 for 2 relapses
      among 11 patients; beyond a million, random relabelings and ``exact`` is ``False``);
      ``p_min`` the smallest p these patients could give under any labeling, ties included
      (1/55 one-sided for 2 of 11; two-sided the same, or 2/55 when the most extreme labeling
      has a mirror image, as with equal group sizes), so a large p from a tiny design reads as
      what it is;
    - ``q``: Benjamini-Hochberg q-value over the features tested within the stratum.

    A stratum without a case or without a control patient is left out (logged). A patient
    without a value for a feature (NaN, or a total of zero) is left out of that feature's test:
    ``n_case`` and ``n_control`` count the patients tested. ``mean_case`` and ``mean_control``
    are means of the patient values on the natural scale (proportions with ``total_key``).

    With ``landmark``, only samples taken within a window after infusion and before each
    patient's relapse visit enter (landmark analysis): ``landmark=180`` keeps samples with
    ``0 < day <= 180``, ``(a, b)`` those with ``a < day <= b``; a patient's relapse visit is
    their earliest sample whose ``timepoint_key`` equals ``relapse_timepoint``, and it and every
    later sample are dropped. Features then come from before relapse; keep ``timepoint_key`` in
    ``strata`` so that patients are compared at matched days.

    Parameters
    ----------
    table
        Tidy per-sample table: one row per sample and feature (niche scores, programme scores,
        spatial abundances, the long form of reconstitution fractions), with the sample's
        patient, outcome and strata beside each value. Tables of cells (more than one row per
        sample and feature) are refused: aggregate per sample first.
    feature_key
        Column naming the feature of each row (niche, programme, metric).
    value_key
        Column of the value: a score, or with ``total_key`` a count.
    total_key
        Column of the denominator of the count in ``value_key`` (``None``: values are averaged).
    sample_key
        Column naming the sample of each row.
    patient_key
        Column naming the patient of each row.
    outcome_key
        Column of the patient's outcome.
    strata
        Columns within whose values patients are compared (empty: the whole table at once).
    case
        Outcome of the case patients (the first group of ``effect``).
    control
        Outcome of the control patients; patients with any other outcome are left out.
    landmark
        Window of days after infusion whose samples enter (see above); ``None`` uses all.
    day_key
        Column of the sample's day relative to infusion (read with ``landmark``).
    timepoint_key
        Column of the sample's timepoint (read with ``landmark``).
    relapse_timepoint
        Timepoint of the relapse visit (read with ``landmark``).
    alternative
        ``two-sided``, ``greater`` (case above control) or ``less``.
    offset
        Added to the count and to its complement before the logit (with ``total_key``).
    n_boot
        Bootstrap resamples of patients for each interval.
    {random_state}

    Returns
    -------
    One row per stratum and feature tested: the ``strata`` columns, ``feature_key``,
    ``n_case``, ``n_control``, ``mean_case``, ``mean_control``, ``effect``, ``effect_lo``,
    ``effect_hi``, ``p``, ``p_min``, ``q``, ``n_relabelings`` and ``exact``; strata sorted,
    features in order of first appearance. Every argument and the seed are recorded in
    ``.attrs["params"]``. Empty, with these columns, when no stratum holds both outcomes.
    """
    strata = list(strata)
    needed = [sample_key, feature_key, value_key, patient_key, outcome_key, *strata]
    if total_key is not None:
        needed.append(total_key)
    if landmark is not None:
        needed += [day_key, timepoint_key]
    check_table(table, needed, sample_key=sample_key, feature_key=feature_key)
    _check_alternative(alternative)
    if case == control:
        raise InputError(f"case and control are both '{case}'.")
    if n_boot < 1:
        raise InputError(f"n_boot must be at least 1, not {n_boot}.")
    params = record(
        feature_key=feature_key, value_key=value_key, total_key=total_key,
        sample_key=sample_key, patient_key=patient_key, outcome_key=outcome_key, strata=strata,
        case=case, control=control, landmark=landmark, day_key=day_key,
        timepoint_key=timepoint_key, relapse_timepoint=relapse_timepoint,
        alternative=alternative, offset=offset, n_boot=n_boot, random_state=random_state,
    )
    outcomes = patient_outcomes(table, patient_key, outcome_key)
    frame = table.dropna(subset=strata) if strata else table
    if landmark is not None:
        frame = landmark_samples(
            frame, landmark, patient_key=patient_key, day_key=day_key,
            timepoint_key=timepoint_key, relapse_timepoint=relapse_timepoint,
            cases=outcomes.index[outcomes == case],
        )
    values = per_patient(frame, [*strata, feature_key], patient_key=patient_key,
                         value_key=value_key, total_key=total_key, offset=offset)
    values[_LABEL] = values[patient_key].astype(object).map(outcomes)
    values = values[values[_LABEL].isin([case, control])]
    order = list(pd.unique(frame[feature_key]))
    rows: list[dict[str, object]] = []
    left_out = []
    groups = values.groupby(strata, observed=True, sort=True) if strata else [((), values)]
    for key, part in groups:
        key = key if isinstance(key, tuple) else (key,)
        present = set(part[_LABEL])
        if not {case, control} <= present:
            left_out.append("/".join(map(str, key)))
            continue
        tested = []
        by_feature = dict(tuple(part.groupby(feature_key, observed=True, sort=False)))
        for feature in order:
            patients = by_feature.get(feature)
            if patients is None:
                continue
            is_case = (patients[_LABEL] == case).to_numpy()
            if is_case.all() or not is_case.any():
                logger.debug("%s '%s' in %s: values for one outcome only", feature_key, feature,
                             key)
                continue
            x = patients["value"].to_numpy(dtype=float)
            natural = patients["natural"].to_numpy(dtype=float)
            test = label_permutation_test(x, is_case, alternative=alternative,
                                          random_state=random_state)
            low, high = bootstrap_interval([x[is_case], x[~is_case]], _difference,
                                           n_boot=n_boot, random_state=random_state)
            tested.append({
                **dict(zip(strata, key, strict=True)), feature_key: feature,
                "n_case": int(is_case.sum()), "n_control": int((~is_case).sum()),
                "mean_case": natural[is_case].mean(), "mean_control": natural[~is_case].mean(),
                "effect": test.statistic, "effect_lo": low, "effect_hi": high,
                "p": test.pvalue, "p_min": test.p_min, "q": np.nan,
                "n_relabelings": test.n_permutations, "exact": test.exact,
            })
        q = benjamini_hochberg([row["p"] for row in tested])
        for row, value in zip(tested, q, strict=True):
            row["q"] = float(value)
        rows += tested
    if left_out:
        logger.info("compare_outcomes: %d stratum/strata without both a '%s' and a '%s' patient "
                    "left out: %s", len(left_out), case, control, ", ".join(left_out))
    result = pd.DataFrame(rows, columns=[*strata, feature_key, *RESULT_COLUMNS])
    logger.info("compare_outcomes: %d tests of '%s' against '%s' over %d feature(s)",
                len(result), case, control, result[feature_key].nunique())
    result.attrs[K.PARAMS] = params
    return result


# within patients over time -----------------------------------------------------------------------


def paired_tests(
    table: pd.DataFrame,
    *,
    feature_key: str,
    value_key: str,
    total_key: str,
    patient_key: str,
    time_key: str,
    reference: str,
    strata: Sequence[str] = (),
    outcome_key: str | None = None,
    offset: float = OFFSET,
    alternative: str = "two-sided",
    n_boot: int = 2000,
    random_state: int = 0,
) -> pd.DataFrame:
    """Compare every timepoint with ``reference`` within patients, for every feature.

    ``table`` is tidy as for :func:`compare_outcomes`, with counts (``value_key``) out of totals
    (``total_key``), reduced to one value per patient and timepoint by :func:`per_patient`. For
    each patient with a value at both, the change is the difference of empirical logits
    (timepoint minus reference); the mean change is tested by exact sign flipping
    (:func:`sign_flip_test`) with its minimum attainable p, and given a patient-level bootstrap
    interval. Done for all patients together (``group`` = ``all``) and, with ``outcome_key``,
    for each outcome.
    """
    rows = []
    strata = list(strata)
    extra = [time_key] + ([outcome_key] if outcome_key else [])
    groups = table.groupby(strata, observed=True, sort=True) if strata else [((), table)]
    for key, part in groups:
        key = key if isinstance(key, tuple) else (key,)
        times = [t for t in pd.unique(part[time_key].astype(object)) if t != reference]
        values = per_patient(part, [feature_key, *extra], patient_key=patient_key,
                             value_key=value_key, total_key=total_key, offset=offset)
        by_feature = dict(tuple(values.groupby(feature_key, observed=True, sort=False)))
        for feature in pd.unique(part[feature_key]):
            patients = by_feature.get(feature)
            if patients is None:
                continue
            before = patients[patients[time_key] == reference]
            before = before.sort_values(patient_key, kind="stable").set_index(patient_key)
            for time in times:
                after = patients[patients[time_key] == time].set_index(patient_key)
                both = before.index.intersection(after.index)
                if both.empty:
                    continue
                subsets = [("all", both)]
                if outcome_key:
                    outcome = after.loc[both, outcome_key]
                    subsets += [(o, both[(outcome == o).to_numpy()])
                                for o in sorted(outcome.dropna().unique())]
                for group, members in subsets:
                    if members.empty:
                        continue
                    change = (after.loc[members, "value"] - before.loc[members, "value"]).to_numpy()
                    test = sign_flip_test(change, alternative=alternative,
                                          random_state=random_state)
                    low, high = bootstrap_interval([change], _mean, n_boot=n_boot,
                                                   random_state=random_state)
                    rows.append({
                        **dict(zip(strata, key, strict=True)), time_key: time,
                        "reference": reference, "group": group, feature_key: feature,
                        "n_patients": len(members),
                        "mean_reference": before.loc[members, "natural"].mean(),
                        "mean_timepoint": after.loc[members, "natural"].mean(),
                        "change_logit": test.statistic, "change_logit_lo": low,
                        "change_logit_hi": high, "p": test.pvalue, "p_min": test.p_min,
                        "n_sign_patterns": test.n_permutations, "exact": test.exact,
                    })
    columns = [*strata, time_key, "reference", "group", feature_key, "n_patients",
               "mean_reference", "mean_timepoint", "change_logit", "change_logit_lo",
               "change_logit_hi", "p", "p_min", "n_sign_patterns", "exact"]
    return pd.DataFrame(rows, columns=columns)
