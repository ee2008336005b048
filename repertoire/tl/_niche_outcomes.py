"""Which niches tell relapse from remission: every per-sample niche measure, patient by patient."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
from anndata import AnnData

from .. import _keys as K
from .._docs import doc_params
from .._errors import InputError
from .._logging import logger
from .._utils import store
from ._outcomes import compare_outcomes, patient_outcomes, per_patient

# the per-sample measures compared, by the record that holds them: (family, record key, table,
# feature column, measures)
NICHE_MEASURES = ("score", "expression", "sender_expression", "receiver_expression",
                  "strength", "sender_fraction", "receiver_fraction")
SPATIAL_MEASURES = ("distance_zscore", "distance_ratio", "plasma_sender_zscore")
# a per-sample table without a feature column holds one feature, named after its family
SOURCES = (
    ("niche", K.NICHE_SCORES, K.TABLE_SAMPLES, "niche", NICHE_MEASURES),
    ("programme", K.PROGRAMMES, K.TABLE_SAMPLES, "programme", ("score",)),
    ("plasma_cells_near_senders", K.SPATIAL_NICHES, K.TABLE_SAMPLES, None, SPATIAL_MEASURES),
    ("neighbourhood", K.SPATIAL_NICHES, K.TABLE_ABUNDANCES, "neighbourhood", ("fraction",)),
)
FEATURE = "feature"


@doc_params
def niche_outcomes(
    adata: AnnData,
    *,
    strata: Sequence[str] = (K.TISSUE, K.TIMEPOINT),
    case: str = "relapse",
    control: str = "remission",
    landmark: float | tuple[float, float] | None = None,
    extra: Sequence[tuple[str, str, str, str, Sequence[str]]] = (),
    n_boot: int = 2000,
    random_state: int = 0,
    key_added: str = K.NICHE_OUTCOMES,
    inplace: bool = True,
) -> dict[str, pd.DataFrame] | None:
    """Compare every per-sample niche measure between relapsing and remitting patients.

    Runs :func:`repertoire.tl.compare_outcomes` (one value per patient, exact over every
    relabeling of the outcomes, the minimum attainable p beside each p, patient bootstrap
    intervals) on each measure of the niche results present in ``adata``: the niche
    ``score`` of :func:`repertoire.tl.niche_scores` and its parts (``expression``,
    ``sender_expression``, ``receiver_expression``, ``strength``, ``sender_fraction``,
    ``receiver_fraction``), so that a niche that differs can
    be told to differ by its cells or by their signalling; the programme scores of
    :func:`repertoire.tl.communication_programmes`; from :func:`repertoire.tl.spatial_niches`,
    how close plasma cells sit to their senders (``distance_zscore``, ``distance_ratio``,
    ``plasma_sender_zscore``, feature ``plasma_cells_near_senders``) and the abundance of each
    cellular neighbourhood (``fraction``); and any ``extra`` per-sample tables.
    Benjamini-Hochberg q-values are taken within each stratum over the features of one family
    and measure (the niches' scores together, the programmes'
    together). The p-values of :func:`repertoire.tl.communication` are never used here: they
    describe specificity within one sample, not a difference between patients.

    Parameters
    ----------
    {adata}
        After :func:`repertoire.tl.niche_scores` (and optionally
        :func:`repertoire.tl.communication_programmes`).
    strata
        Columns within whose values patients are compared (tissue and timepoint: patients at
        matched days).
    case
        Outcome of the case patients.
    control
        Outcome of the control patients.
    landmark
        Window of days after infusion, before each relapse, whose samples enter (see
        :func:`repertoire.tl.compare_outcomes`).
    extra
        More per-sample measures as ``(family, .uns key, table, feature column, measures)``;
        a feature column of ``None`` makes the family the one feature.
    n_boot
        Bootstrap resamples of patients per interval.
    {random_state}
    {key_added}
    {inplace}

    Returns
    -------
    With ``inplace=False``, a dict of two tables; otherwise ``None`` and they go to
    ``.uns[key_added]`` beside ``params``: ``outcomes`` (one row per stratum, family, feature
    and measure, with the columns of :func:`repertoire.tl.compare_outcomes`, ``feature``
    naming the niche or programme, ``effect_standardized`` (the effect over the standard
    deviation of all patients' values) and ``rank``, the feature's place within its stratum,
    family and measure by p, equal p sharing the best place) and ``patients`` (the value of every
    patient in every stratum: the points behind each test).
    """
    sources = [s for s in (*SOURCES, *extra) if s[1] in adata.uns]
    if not any(s[0] == "niche" for s in sources) and not extra:
        raise InputError(
            f".uns['{K.NICHE_SCORES}'] is missing; run repertoire.tl.niche_scores first."
        )
    strata = list(strata)
    outcomes, patients = [], []
    for family, key, table_name, feature_column, measures in sources:
        table = adata.uns[key][table_name]
        for measure in measures:
            if measure not in table:
                continue
            frame = (table.assign(**{FEATURE: family}) if feature_column is None
                     else table.rename(columns={feature_column: FEATURE}))
            result = compare_outcomes(
                frame, feature_key=FEATURE, value_key=measure, strata=strata, case=case,
                control=control, landmark=landmark, n_boot=n_boot, random_state=random_state,
            )
            result.insert(len(strata), "family", family)
            result.insert(len(strata) + 2, "measure", measure)
            outcomes.append(result)
            values = per_patient(frame.dropna(subset=strata), [*strata, FEATURE],
                                 patient_key=K.PATIENT, value_key=measure)
            patients.append(values.assign(family=family, measure=measure))
    if not outcomes:
        raise InputError("no niche measure to compare; run repertoire.tl.niche_scores first.")
    tested = [table for table in outcomes if len(table)]
    outcome_table = pd.concat(tested or outcomes[:1], ignore_index=True)
    outcome_table[FEATURE] = outcome_table[FEATURE].astype(str)
    patient_table = pd.concat(patients, ignore_index=True)
    patient_table[FEATURE] = patient_table[FEATURE].astype(str)
    keys = [*strata, "family", FEATURE, "measure"]
    spread = patient_table.groupby(keys, observed=True)["value"].std().rename("_spread")
    outcome_table = outcome_table.merge(spread.reset_index(), on=keys, how="left")
    outcome_table["effect_standardized"] = (
        outcome_table["effect"] / outcome_table.pop("_spread").where(lambda s: s > 0)
    )
    outcome_table["rank"] = _ranks(outcome_table, [*strata, "family", "measure"])
    table = next(adata.uns[s[1]][s[2]] for s in sources)
    outcome_of = patient_outcomes(table, K.PATIENT, K.OUTCOME)
    patient_table[K.OUTCOME] = patient_table[K.PATIENT].astype(object).map(outcome_of)
    patient_table = patient_table.drop(columns="natural")
    best = outcome_table[(outcome_table["rank"] == 1) & (outcome_table["measure"] == "score")]
    logger.info("niche outcomes: %d tests; first by p per stratum: %s", len(outcome_table),
                "; ".join(f"{'/'.join(str(r[c]) for c in strata)} {r['family']} {r[FEATURE]} "
                          f"p={r['p']:.2g} (min {r['p_min']:.2g})"
                          for _, r in best.iterrows()) or "none")
    tables = {K.TABLE_OUTCOMES: outcome_table, K.TABLE_PATIENTS: patient_table}
    return store(
        adata, key_added, inplace=inplace, result=tables, tables=tables,
        params={"strata": strata, "case": case, "control": control, "landmark": landmark,
                "sources": {family: {"key": key, "table": name, "feature": feature or "",
                                     "measures": list(measures)}
                            for family, key, name, feature, measures in sources},
                "n_boot": n_boot,
                "random_state": random_state},
    )


def _ranks(table: pd.DataFrame, groups: list[str]) -> pd.Series:
    """Each row's place within its group by p, equal p sharing the best place (1, 1, 3, ...).

    With few patients many features reach the same smallest possible p: none of them is
    ahead of another, and ``effect_standardized`` says how far apart the outcomes lie.
    """
    return (table.groupby(groups, observed=True, sort=False)["p"]
            .rank(method="min").astype("Int64"))
