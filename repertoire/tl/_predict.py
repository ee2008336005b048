"""Leave-one-patient-out prediction of the outcome, calibrated against every relabeling."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from .. import _keys as K
from .._docs import doc_params
from .._errors import InputError
from .._logging import logger
from .._utils import record
from ._outcomes import OFFSET, check_table, landmark_samples, patient_outcomes, per_patient
from ._stats import _pvalues, relabelings

MAX_RELABELINGS = 2000


def _pipeline(c: float):
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(SimpleImputer(strategy="median"), StandardScaler(),
                         LogisticRegression(C=c, max_iter=1000))


def held_out_probabilities(x: np.ndarray, y: np.ndarray, c: float = 1.0) -> np.ndarray:
    """Probability of ``y == 1`` for each patient from a model fitted on all the others.

    Every fitting step (median imputation, scaling, the L2-penalised logistic regression with
    inverse strength ``c``) is inside the fold (Varma and Simon, BMC Bioinformatics 2006).
    """
    from sklearn.base import clone

    model = _pipeline(c)
    out = np.empty(len(y))
    for i in range(len(y)):
        train = np.arange(len(y)) != i
        fitted = clone(model).fit(x[train], y[train])
        out[i] = fitted.predict_proba(x[i : i + 1])[0, 1]
    return out


def _auc(y: np.ndarray, score: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(y, score))


@doc_params
def predict_outcome(
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
    offset: float = OFFSET,
    c: float = 1.0,
    max_relabelings: int = MAX_RELABELINGS,
    random_state: int = 0,
) -> dict[str, pd.DataFrame]:
    """Predict case against control patients leave-one-patient-out; test the AUC exactly.

    Each patient becomes one row of features: one per feature and stratum, the patient's value
    as :func:`repertoire.tl.compare_outcomes` computes it (mean of their samples, or empirical
    logit of summed counts with ``total_key``; the same ``landmark`` filter). A pipeline of
    median imputation, scaling and L2-penalised logistic regression is fitted on all patients
    but one and predicts the one left out, every fitting step inside the fold (Varma and Simon,
    BMC Bioinformatics 2006). The AUC of these held-out predictions is then compared with the
    AUC of the same whole procedure under every relabeling of the patients' outcomes (55 for 2
    cases among 11 patients; beyond ``max_relabelings``, that many random relabelings and the
    observed one, and ``exact`` is ``False``): ``p`` is the share at least as high, ``p_min``
    the smallest p the design allows. With so few patients, the AUC alone says little; its p
    says how often chance does as well.

    Parameters
    ----------
    table
        Tidy per-sample table, as for :func:`repertoire.tl.compare_outcomes`.
    feature_key
        Column naming the feature of each row.
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
        Columns whose values split each feature into several (a feature at each timepoint).
    case
        Outcome predicted (the positive class).
    control
        The other outcome; patients with any other outcome are left out.
    landmark
        Window of days after infusion whose samples enter, before each patient's relapse visit
        (as for :func:`repertoire.tl.compare_outcomes`); ``None`` uses all.
    day_key
        Column of the sample's day relative to infusion (read with ``landmark``).
    timepoint_key
        Column of the sample's timepoint (read with ``landmark``).
    relapse_timepoint
        Timepoint of the relapse visit (read with ``landmark``).
    offset
        Added to the count and to its complement before the logit (with ``total_key``).
    c
        Inverse strength of the L2 penalty of the logistic regression.
    max_relabelings
        Most relabelings enumerated; beyond, that many are drawn at random.
    {random_state}

    Returns
    -------
    A dict of two tables: ``summary``, one row with ``auc``, ``p``, ``p_min``,
    ``n_relabelings``, ``exact``, ``n_case``, ``n_control`` and ``n_features``; ``patients``,
    one row per patient with ``patient_key``, ``outcome_key`` and ``probability`` (of ``case``,
    held out). Every argument and the seed are recorded in ``summary.attrs["params"]``.
    """
    strata = list(strata)
    needed = [sample_key, feature_key, value_key, patient_key, outcome_key, *strata]
    if total_key is not None:
        needed.append(total_key)
    if landmark is not None:
        needed += [day_key, timepoint_key]
    check_table(table, needed, sample_key=sample_key, feature_key=feature_key)
    if case == control:
        raise InputError(f"case and control are both '{case}'.")
    if max_relabelings < 1:
        raise InputError(f"max_relabelings must be at least 1, not {max_relabelings}.")
    params = record(
        feature_key=feature_key, value_key=value_key, total_key=total_key,
        sample_key=sample_key, patient_key=patient_key, outcome_key=outcome_key, strata=strata,
        case=case, control=control, landmark=landmark, day_key=day_key,
        timepoint_key=timepoint_key, relapse_timepoint=relapse_timepoint, offset=offset, c=c,
        max_relabelings=max_relabelings, random_state=random_state,
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
    values = values[values[patient_key].astype(object).map(outcomes).isin([case, control])]
    values = values.assign(_column=values[[*strata, feature_key]].astype(str).agg("|".join, axis=1))
    wide = values.pivot_table(index=patient_key, columns="_column", values="value",
                              aggfunc="first", observed=True, sort=True)
    wide = wide.dropna(axis=1, how="all")
    y = (wide.index.to_series().astype(object).map(outcomes) == case).to_numpy(dtype=int)
    n_case, n_control = int(y.sum()), int(len(y) - y.sum())
    if n_case < 2 or n_control < 2 or wide.shape[1] == 0:
        raise InputError(
            f"leave-one-patient-out prediction needs at least two '{case}' and two '{control}' "
            f"patients with a value, found {n_case} and {n_control} over {wide.shape[1]} "
            "feature(s)."
        )
    x = wide.to_numpy(dtype=float)
    with threadpool_limits(1):
        probability = held_out_probabilities(x, y, c)
    observed = _auc(y, probability)
    n = len(y)
    members, exact = relabelings(y, max_exact=max_relabelings, n_random=max_relabelings,
                                 random_state=random_state)
    labelings = members.astype(int)
    logger.info("predict_outcome: %d patients (%d '%s'), %d feature(s); %s AUC over %d "
                "relabelings", n, n_case, case, x.shape[1], "exact" if exact else "random",
                len(labelings))
    # hundreds of tiny fits: threads of the linear algebra library cost more than they give
    with threadpool_limits(1):
        null = np.array([_auc(labels, held_out_probabilities(x, labels, c))
                         for labels in labelings])
    pvalue, p_min = _pvalues(null, observed, "greater")
    summary = pd.DataFrame([{
        "auc": observed, "p": pvalue, "p_min": p_min, "n_relabelings": len(labelings),
        "exact": exact, "n_case": n_case, "n_control": n_control, "n_features": x.shape[1],
    }])
    summary.attrs[K.PARAMS] = params
    patients = pd.DataFrame({
        patient_key: wide.index.to_numpy(),
        outcome_key: np.where(y == 1, case, control),
        "probability": probability,
    })
    return {"summary": summary, "patients": patients}
