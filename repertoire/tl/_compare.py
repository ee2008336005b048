"""Patient-level tests of per-sample proportions: between outcomes, and within patients over time.

Input is a tidy per-sample table holding, for each measure, a count and its denominator (for
example ``n_naive_tx`` of ``n_B_tx``). Samples are first summed per patient within each
stratum (tissue and timepoint), proportions are turned into empirical logits, and the tests
of :mod:`repertoire.tl._stats` run on one value per patient (BIOLOGY.md, statistics rules).
p-values are not adjusted for the number of tests.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from ._stats import (
    bootstrap_interval,
    empirical_logit,
    label_permutation_test,
    sign_flip_test,
)

OFFSET = 0.5


def _difference(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return a.mean(axis=-1) - b.mean(axis=-1)


def _mean(a: np.ndarray) -> np.ndarray:
    return a.mean(axis=-1)


def _per_patient(
    table: pd.DataFrame, counts: tuple[str, str], patient_key: str, extra: Sequence[str] = ()
) -> pd.DataFrame:
    """Sum counts per patient (and ``extra`` columns); drop patients with no denominator."""
    k, n = counts
    summed = table.groupby([patient_key, *extra], observed=True, dropna=False)[[k, n]].sum()
    summed = summed[summed[n] > 0]
    return summed.rename(columns={k: "k", n: "n"}).reset_index()


def outcome_tests(
    table: pd.DataFrame,
    metrics: Mapping[str, tuple[str, str]],
    *,
    patient_key: str,
    outcome_key: str,
    strata: Sequence[str] = (),
    case: str = "relapse",
    control: str = "remission",
    offset: float = OFFSET,
    alternative: str = "two-sided",
    n_boot: int = 2000,
    random_state: int = 0,
) -> pd.DataFrame:
    """Compare ``case`` with ``control`` patients for every metric within every stratum.

    The statistic is the difference of mean empirical logits (case minus control); its p-value
    is exact over all relabelings of the patients' outcomes (:func:`label_permutation_test`),
    shown with the minimum attainable p; the interval is a patient-level bootstrap
    (:func:`bootstrap_interval`). Strata lacking a case or a control patient are left out.
    """
    rows = []
    groups = table.groupby(list(strata), observed=True, sort=True) if strata else [((), table)]
    for key, part in groups:
        key = key if isinstance(key, tuple) else (key,)
        for metric, counts in metrics.items():
            patients = _per_patient(part, counts, patient_key, [outcome_key])
            patients = patients[patients[outcome_key].isin([case, control])]
            is_case = (patients[outcome_key] == case).to_numpy()
            if is_case.all() or not is_case.any():
                continue
            logits = empirical_logit(patients["k"], patients["n"], offset)
            proportions = (patients["k"] / patients["n"]).to_numpy()
            test = label_permutation_test(logits, is_case, alternative=alternative,
                                          random_state=random_state)
            low, high = bootstrap_interval([logits[is_case], logits[~is_case]], _difference,
                                           n_boot=n_boot, random_state=random_state)
            rows.append({
                **dict(zip(strata, key, strict=True)), "metric": metric,
                f"n_{case}": int(is_case.sum()), f"n_{control}": int((~is_case).sum()),
                f"mean_{case}": proportions[is_case].mean(),
                f"mean_{control}": proportions[~is_case].mean(),
                "diff_logit": test.statistic, "diff_logit_lo": low, "diff_logit_hi": high,
                "p": test.pvalue, "p_min": test.p_min, "n_relabelings": test.n_permutations,
                "exact": test.exact,
            })
    columns = [*strata, "metric", f"n_{case}", f"n_{control}", f"mean_{case}",
               f"mean_{control}", "diff_logit", "diff_logit_lo", "diff_logit_hi", "p", "p_min",
               "n_relabelings", "exact"]
    return pd.DataFrame(rows, columns=columns)


def paired_tests(
    table: pd.DataFrame,
    metrics: Mapping[str, tuple[str, str]],
    *,
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
    """Compare every timepoint with ``reference`` within patients, for every metric.

    For each patient with a value at both, the change is the difference of empirical logits
    (timepoint minus reference); the mean change is tested by exact sign flipping
    (:func:`sign_flip_test`) with its minimum attainable p, and given a patient-level bootstrap
    interval. Done for all patients together (``group`` = ``all``) and, with ``outcome_key``,
    for each outcome.
    """
    rows = []
    groups = table.groupby(list(strata), observed=True, sort=True) if strata else [((), table)]
    for key, part in groups:
        key = key if isinstance(key, tuple) else (key,)
        times = [t for t in pd.unique(part[time_key].astype(object)) if t != reference]
        for metric, counts in metrics.items():
            extra = [time_key] + ([outcome_key] if outcome_key else [])
            patients = _per_patient(part, counts, patient_key, extra)
            patients["logit"] = empirical_logit(patients["k"], patients["n"], offset)
            patients["proportion"] = patients["k"] / patients["n"]
            before = patients[patients[time_key] == reference].set_index(patient_key)
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
                    change = (after.loc[members, "logit"] - before.loc[members, "logit"]).to_numpy()
                    test = sign_flip_test(change, alternative=alternative,
                                          random_state=random_state)
                    low, high = bootstrap_interval([change], _mean, n_boot=n_boot,
                                                   random_state=random_state)
                    rows.append({
                        **dict(zip(strata, key, strict=True)), time_key: time,
                        "reference": reference, "group": group, "metric": metric,
                        "n_patients": len(members),
                        "mean_reference": before.loc[members, "proportion"].mean(),
                        "mean_timepoint": after.loc[members, "proportion"].mean(),
                        "change_logit": test.statistic, "change_logit_lo": low,
                        "change_logit_hi": high, "p": test.pvalue, "p_min": test.p_min,
                        "n_sign_patterns": test.n_permutations, "exact": test.exact,
                    })
    columns = [*strata, time_key, "reference", "group", "metric", "n_patients",
               "mean_reference", "mean_timepoint", "change_logit", "change_logit_lo",
               "change_logit_hi", "p", "p_min", "n_sign_patterns", "exact"]
    return pd.DataFrame(rows, columns=columns)
