"""The outcome-comparison engine, on tiny hand-made tables and numbers worked out by hand."""

from __future__ import annotations

import itertools
import logging
import math

import anndata as ad
import numpy as np
import pandas as pd
import pytest
from threadpoolctl import threadpool_limits

import repertoire as rp
from repertoire import _keys as K
from repertoire.tl._outcomes import RESULT_COLUMNS, landmark_samples
from repertoire.tl._stats import benjamini_hochberg, bootstrap_interval


def scores(values: dict[str, tuple[str, list[float]]], *, niche: str = "N1",
           timepoint: str = "M6", tissue: str = "blood") -> pd.DataFrame:
    """Rows of a niche-score table: patient -> (outcome, one score per sample)."""
    rows = []
    for patient, (outcome, samples) in values.items():
        for i, score in enumerate(samples):
            rows.append({K.SAMPLE: f"{patient}_{timepoint}_{tissue}_{i}", K.PATIENT: patient,
                         K.TIMEPOINT: timepoint, K.DAY: 180, K.TISSUE: tissue,
                         K.OUTCOME: outcome, "niche": niche, "score": score})
    return pd.DataFrame(rows)


def two_against_three(case_values=(2.0, 7.0), control_values=(1.0, 3.0, 5.0), **kwargs):
    values = {f"C{i}": ("relapse", [v]) for i, v in enumerate(case_values)}
    values |= {f"R{i}": ("remission", [v]) for i, v in enumerate(control_values)}
    return scores(values, **kwargs)


def enumerate_p(values: np.ndarray, is_case: np.ndarray, alternative: str) -> float:
    """The exact p by brute force: every choice of the case patients."""
    def diff(chosen):
        mask = np.zeros(len(values), dtype=bool)
        mask[list(chosen)] = True
        return values[mask].mean() - values[~mask].mean()

    observed = values[is_case].mean() - values[~is_case].mean()
    null = [diff(c) for c in itertools.combinations(range(len(values)), int(is_case.sum()))]
    if alternative == "two-sided":
        return float(np.mean([abs(d) >= abs(observed) - 1e-12 for d in null]))
    return float(np.mean([d >= observed - 1e-12 for d in null]))


# exact p and p_min -------------------------------------------------------------------------------


def test_two_against_three_by_hand() -> None:
    # values 1, 2, 3, 5, 7 (total 18); cases 2 and 7. A choice of two with sum s differs by
    # s/2 - (18 - s)/3 = (5s - 36)/6; the ten sums 3, 4, 5, 6, 7, 8, 8, 9, 10, 12 give
    # -3.5, -2.67, -1.83, -1, -0.17, 0.67, 0.67, 1.5, 2.33, 4. Observed s = 9: 1.5.
    result = rp.tl.compare_outcomes(two_against_three())
    row = result.iloc[0]
    print(result.to_string())
    assert row["n_case"] == 2
    assert row["n_control"] == 3
    assert row["mean_case"] == pytest.approx(4.5)
    assert row["mean_control"] == pytest.approx(3.0)
    assert row["effect"] == pytest.approx(1.5)
    assert row["n_relabelings"] == math.comb(5, 2) == 10
    assert row["exact"]
    # |difference| >= 1.5: -3.5, -2.67, -1.83, 1.5, 2.33, 4
    assert row["p"] == pytest.approx(6 / 10)
    assert row["p_min"] == pytest.approx(1 / 10)  # only 4 reaches |4|
    greater = rp.tl.compare_outcomes(two_against_three(), alternative="greater").iloc[0]
    assert greater["p"] == pytest.approx(3 / 10)  # 1.5, 2.33, 4
    less = rp.tl.compare_outcomes(two_against_three(), alternative="less").iloc[0]
    assert less["p"] == pytest.approx(8 / 10)
    extreme = rp.tl.compare_outcomes(two_against_three((5.0, 7.0), (1.0, 2.0, 3.0))).iloc[0]
    assert extreme["effect"] == pytest.approx(4.0)
    assert extreme["p"] == pytest.approx(1 / 10)
    x = np.array([2.0, 7.0, 1.0, 3.0, 5.0])
    is_case = np.array([True, True, False, False, False])
    assert row["p"] == pytest.approx(enumerate_p(x, is_case, "two-sided"))
    assert greater["p"] == pytest.approx(enumerate_p(x, is_case, "greater"))


def test_two_of_eleven_give_55_relabelings_and_p_min_from_the_null() -> None:
    # cases 20 and 30 above controls 0..8: no other labeling comes close, p = p_min = 1/55
    table = two_against_three((20.0, 30.0), tuple(float(v) for v in range(9)))
    row = rp.tl.compare_outcomes(table).iloc[0]
    assert row["n_relabelings"] == 55
    assert row["p"] == pytest.approx(1 / 55)
    assert row["p_min"] == pytest.approx(1 / 55)
    # values 0..10 with cases 9 and 10: labeling {0, 1} mirrors it (|-5.5| = 5.5), so the
    # two-sided p and the smallest p this design allows are both 2/55
    mirrored = rp.tl.compare_outcomes(two_against_three((9.0, 10.0),
                                                        tuple(float(v) for v in range(9))))
    assert mirrored["effect"].iloc[0] == pytest.approx(9.5 - 4.0)
    assert mirrored["p"].iloc[0] == pytest.approx(2 / 55)
    assert mirrored["p_min"].iloc[0] == pytest.approx(2 / 55)
    one_sided = rp.tl.compare_outcomes(two_against_three((9.0, 10.0),
                                                         tuple(float(v) for v in range(9))),
                                       alternative="greater")
    assert one_sided["p_min"].iloc[0] == pytest.approx(1 / 55)
    # two against two: every labeling has its mirror image, p_min = 2/6
    even = rp.tl.compare_outcomes(two_against_three((3.0, 4.0), (1.0, 2.0))).iloc[0]
    assert even["n_relabelings"] == 6
    assert even["p"] == pytest.approx(2 / 6)
    assert even["p_min"] == pytest.approx(2 / 6)


def test_a_patients_samples_in_a_stratum_are_averaged() -> None:
    # C1's two samples (6 and 8) count as one patient with 7
    table = scores({"C0": ("relapse", [2.0]), "C1": ("relapse", [6.0, 8.0]),
                    "R0": ("remission", [1.0]), "R1": ("remission", [3.0]),
                    "R2": ("remission", [5.0])})
    row = rp.tl.compare_outcomes(table).iloc[0]
    assert row["n_case"] == 2
    assert row["mean_case"] == pytest.approx(4.5)
    assert row["effect"] == pytest.approx(1.5)
    assert row["p"] == pytest.approx(6 / 10)


def test_nan_values_leave_the_patient_out_of_that_feature() -> None:
    table = pd.concat([
        two_against_three(),
        two_against_three((2.0, 7.0), (1.0, np.nan, 5.0), niche="N2"),
    ], ignore_index=True)
    result = rp.tl.compare_outcomes(table).set_index("niche")
    assert result.loc["N1", "n_control"] == 3
    assert result.loc["N2", "n_control"] == 2
    assert result.loc["N2", "mean_control"] == pytest.approx(3.0)
    assert result.loc["N2", "n_relabelings"] == math.comb(4, 2)
    # a patient with one NaN sample and one value keeps the value
    mixed = scores({"C0": ("relapse", [2.0, np.nan]), "C1": ("relapse", [7.0]),
                    "R0": ("remission", [1.0]), "R1": ("remission", [3.0])})
    assert rp.tl.compare_outcomes(mixed)["mean_case"].iloc[0] == pytest.approx(4.5)


# counts: the reconstitution comparison --------------------------------------------------------


def counts_table() -> pd.DataFrame:
    rows = [  # sample, patient, outcome, naive B cells, B cells
        ("S1a", "P1", "relapse", 1, 4), ("S1b", "P1", "relapse", 2, 6),
        ("S2", "P2", "relapse", 1, 10),
        ("S3", "P3", "remission", 8, 10), ("S4", "P4", "remission", 6, 10),
        ("S5", "P5", "remission", 9, 10), ("S6", "P6", "remission", 0, 0),
    ]
    table = pd.DataFrame(rows, columns=[K.SAMPLE, K.PATIENT, K.OUTCOME, "count", "denominator"])
    return table.assign(**{K.TISSUE: "blood", K.TIMEPOINT: "M6", "metric": "frac_naive"})


def test_counts_are_summed_per_patient_and_compared_as_empirical_logits() -> None:
    result = rp.tl.compare_outcomes(counts_table(), feature_key="metric", value_key="count",
                                    total_key="denominator")
    row = result.iloc[0]
    print(row.to_string())
    # P1: (1 + 2) of (4 + 6); P6 has no B cell and is left out
    logit = {"P1": math.log(3.5 / 7.5), "P2": math.log(1.5 / 9.5), "P3": math.log(8.5 / 2.5),
             "P4": math.log(6.5 / 4.5), "P5": math.log(9.5 / 1.5)}
    case = np.array([logit["P1"], logit["P2"]])
    control = np.array([logit["P3"], logit["P4"], logit["P5"]])
    assert (row["n_case"], row["n_control"]) == (2, 3)
    assert row["mean_case"] == pytest.approx((0.3 + 0.1) / 2)  # proportions, not logits
    assert row["mean_control"] == pytest.approx((0.8 + 0.6 + 0.9) / 3)
    assert row["effect"] == pytest.approx(case.mean() - control.mean())
    assert row["effect"] == pytest.approx(-2.4497590053545353)
    # the two cases hold the two lowest logits: of the ten relabelings only they reach |effect|
    values = np.r_[case, control]
    is_case = np.array([True, True, False, False, False])
    assert enumerate_p(values, is_case, "two-sided") == pytest.approx(1 / 10)
    assert row["p"] == pytest.approx(1 / 10)
    assert row["p_min"] == pytest.approx(1 / 10)
    # the interval: the patient bootstrap of _stats on these logits, in patient order, seed 0
    low, high = bootstrap_interval([case, control], lambda a, b: a.mean(-1) - b.mean(-1),
                                   n_boot=2000, random_state=0)
    assert (row["effect_lo"], row["effect_hi"]) == (low, high)
    # and what the former outcome_tests of tl.reconstitution gave for this very table
    # (diff_logit, diff_logit_lo, diff_logit_hi, p, p_min with n_boot=2000, random_state=0)
    assert row["effect_lo"] == pytest.approx(-3.484302961371257, abs=1e-12)
    assert row["effect_hi"] == pytest.approx(-1.4152150493378135, abs=1e-12)


def test_counts_are_checked() -> None:
    table = counts_table()
    table.loc[0, "count"] = 7  # 7 of 4
    with pytest.raises(rp.InputError, match="counts between 0"):
        rp.tl.compare_outcomes(table, feature_key="metric", value_key="count",
                               total_key="denominator")
    with pytest.raises(rp.InputError, match="'outcome' is not numeric"):
        rp.tl.compare_outcomes(counts_table(), feature_key="metric", value_key="outcome")


# q-values ----------------------------------------------------------------------------------------


def test_benjamini_hochberg_by_hand() -> None:
    # sorted 0.01, 0.03, 0.04, 0.2 times 4/rank: 0.04, 0.06, 0.0533, 0.2; then the running
    # minimum from the top: 0.04, 0.0533, 0.0533, 0.2
    q = benjamini_hochberg([0.01, 0.04, 0.03, 0.2])
    np.testing.assert_allclose(q, [0.04, 0.16 / 3, 0.16 / 3, 0.2])
    with_nan = benjamini_hochberg([0.5, np.nan, 0.01])  # two tests: 0.02, 0.5
    np.testing.assert_allclose(with_nan, [0.5, np.nan, 0.02])
    assert benjamini_hochberg([]).shape == (0,)
    np.testing.assert_allclose(benjamini_hochberg([0.9, 0.8]), [0.9, 0.9])


def test_q_values_run_over_the_features_of_each_stratum() -> None:
    # three niches with p = 1/10, 6/10 and 9/10 in M6, and one niche alone in M3
    # (cases 3 and 5 among 1, 2, 3, 5, 7: only the sum 7, difference -1/6, is less extreme)
    table = pd.concat([
        two_against_three((5.0, 7.0), (1.0, 2.0, 3.0), niche="N1"),
        two_against_three((2.0, 7.0), (1.0, 3.0, 5.0), niche="N2"),
        two_against_three((3.0, 5.0), (1.0, 2.0, 7.0), niche="N3"),
        two_against_three((5.0, 7.0), (1.0, 2.0, 3.0), niche="N1", timepoint="M3"),
    ], ignore_index=True)
    result = rp.tl.compare_outcomes(table)
    print(result[[K.TIMEPOINT, "niche", "p", "q"]].to_string())
    m6 = result[result[K.TIMEPOINT] == "M6"].set_index("niche")
    np.testing.assert_allclose(m6["p"], [0.1, 0.6, 0.9])
    # 3 tests: 0.1 * 3 = 0.3, 0.6 * 3/2 = 0.9, 0.9 * 3/3 = 0.9
    np.testing.assert_allclose(m6["q"], [0.3, 0.9, 0.9])
    m3 = result[result[K.TIMEPOINT] == "M3"]
    assert m3["q"].tolist() == pytest.approx(m3["p"].tolist())  # one test: q = p
    # strata sorted, features in order of first appearance
    assert result[K.TIMEPOINT].tolist() == ["M3", "M6", "M6", "M6"]
    assert result["niche"].tolist() == ["N1", "N1", "N2", "N3"]


# strata, refusals, edge cases --------------------------------------------------------------------


def test_strata_without_both_outcomes_are_left_out(caplog) -> None:
    baseline = scores({"B0": ("remission", [1.0]), "B1": ("remission", [2.0])},
                      timepoint="baseline")
    unknown = scores({"U0": ("unknown", [9.0])}, timepoint="M6")
    table = pd.concat([two_against_three(), baseline, unknown], ignore_index=True)
    with caplog.at_level(logging.INFO, logger="repertoire"):
        result = rp.tl.compare_outcomes(table)
    assert result[K.TIMEPOINT].tolist() == ["M6"]
    assert result["n_control"].iloc[0] == 3  # the unknown patient is neither
    assert "blood/baseline" in caplog.text
    assert "left out" in caplog.text
    # without strata the whole table is one comparison: baseline values join the means
    pooled = rp.tl.compare_outcomes(table, strata=())
    assert list(pooled.columns) == ["niche", *RESULT_COLUMNS]
    assert pooled["n_control"].iloc[0] == 5


def test_one_patient_gives_an_empty_table_and_a_log_line(caplog) -> None:
    table = scores({"P1": ("remission", [1.0, 2.0])})
    with caplog.at_level(logging.INFO, logger="repertoire"):
        result = rp.tl.compare_outcomes(table)
    assert result.empty
    assert list(result.columns) == [K.TISSUE, K.TIMEPOINT, "niche", *RESULT_COLUMNS]
    assert "without both" in caplog.text


def test_cell_level_tables_are_refused() -> None:
    # an .obs frame: one row per cell, many per sample and cell type
    obs = pd.DataFrame({K.SAMPLE: ["S1"] * 3 + ["S2"] * 3, K.PATIENT: ["P1"] * 3 + ["P2"] * 3,
                        K.OUTCOME: ["relapse"] * 3 + ["remission"] * 3, K.TISSUE: "blood",
                        K.TIMEPOINT: "M6", "cell_type": "B_naive", "shm_rate": 0.01},
                       index=[f"cell{i}" for i in range(6)])
    with pytest.raises(rp.InputError, match="3 rows for sample_id 'S1' and cell_type 'B_naive'"):
        rp.tl.compare_outcomes(obs, feature_key="cell_type", value_key="shm_rate")
    with pytest.raises(rp.InputError, match=r"patient is the unit.*aggregate per sample first"):
        rp.tl.compare_outcomes(obs, feature_key="cell_type", value_key="shm_rate")
    with pytest.raises(rp.InputError, match="tidy per-sample table"):
        rp.tl.compare_outcomes(ad.AnnData(obs=obs))


def test_missing_columns_and_bad_arguments_are_named() -> None:
    table = two_against_three()
    with pytest.raises(rp.InputError, match="column 'outcome' is not in the table"):
        rp.tl.compare_outcomes(table.drop(columns=K.OUTCOME))
    with pytest.raises(rp.InputError, match="column 'n_B' is not in the table"):
        rp.tl.compare_outcomes(table, total_key="n_B")
    with pytest.raises(rp.InputError, match="column 'day' is not in the table"):
        rp.tl.compare_outcomes(table.drop(columns=K.DAY), landmark=180)
    with pytest.raises(rp.InputError, match="column 'site' is not in the table"):
        rp.tl.compare_outcomes(table, strata=("site",))
    with pytest.raises(rp.InputError, match="alternative"):
        rp.tl.compare_outcomes(table, alternative="bigger")
    with pytest.raises(rp.InputError, match="both 'relapse'"):
        rp.tl.compare_outcomes(table, control="relapse")
    twice = table.copy()
    twice.loc[0, K.OUTCOME] = "remission"
    twice = pd.concat([twice, table.iloc[[0]].assign(**{K.SAMPLE: "other"})])
    with pytest.raises(rp.InputError, match="patient 'C0' has more than one outcome"):
        rp.tl.compare_outcomes(twice)


def test_the_same_seed_gives_the_same_intervals_and_is_recorded() -> None:
    table = two_against_three((2.0, 7.0, 6.5), (1.0, 3.0, 5.0, 0.5))
    first = rp.tl.compare_outcomes(table, n_boot=500, random_state=7)
    again = rp.tl.compare_outcomes(table, n_boot=500, random_state=7)
    other = rp.tl.compare_outcomes(table, n_boot=500, random_state=8)
    pd.testing.assert_frame_equal(first, again)
    assert (first["effect_lo"].iloc[0], first["effect_hi"].iloc[0]) != (
        other["effect_lo"].iloc[0], other["effect_hi"].iloc[0])
    assert first["p"].iloc[0] == other["p"].iloc[0]
    assert first.attrs["params"]["random_state"] == 7
    assert first.attrs["params"]["n_boot"] == 500
    assert first.attrs["params"]["strata"] == [K.TISSUE, K.TIMEPOINT]


# landmark ----------------------------------------------------------------------------------------


def landmark_table() -> pd.DataFrame:
    visits = {  # patient: outcome, [(timepoint, day, score)]
        "P1": ("relapse", [("baseline", -5, 0.0), ("M3", 90, 5.0), ("relapse", 150, 9.0),
                           ("M6", 180, 9.0), ("M12", 365, 9.0)]),
        "P2": ("relapse", [("baseline", -5, 0.0), ("M3", 90, 6.0), ("M6", 180, 7.0),
                           ("relapse", 300, 9.0)]),
        "P3": ("remission", [("baseline", -5, 0.0), ("M3", 90, 1.0), ("M6", 180, 2.0),
                             ("M12", 365, 1.0)]),
        "P4": ("remission", [("baseline", -5, 0.0), ("M3", 90, 2.0), ("M6", 180, 3.0),
                             ("M12", 365, 2.0)]),
    }
    rows = [{K.SAMPLE: f"{p}_{tp}", K.PATIENT: p, K.OUTCOME: outcome, K.TIMEPOINT: tp,
             K.DAY: day, K.TISSUE: "blood", "niche": "N1", "score": score}
            for p, (outcome, samples) in visits.items() for tp, day, score in samples]
    return pd.DataFrame(rows)


def test_landmark_keeps_samples_in_the_window_and_before_relapse(caplog) -> None:
    table = landmark_table()
    kept = landmark_samples(table, 180, patient_key=K.PATIENT, day_key=K.DAY,
                            timepoint_key=K.TIMEPOINT, relapse_timepoint="relapse")
    # baseline (day -5) is before infusion, M12 after the window; P1 relapsed on day 150, so
    # its relapse visit and its later M6 go; P2's relapse on day 300 is outside the window
    assert sorted(kept[K.SAMPLE]) == ["P1_M3", "P2_M3", "P2_M6", "P3_M3", "P3_M6", "P4_M3",
                                      "P4_M6"]
    window = landmark_samples(table, (90, 365), patient_key=K.PATIENT, day_key=K.DAY,
                              timepoint_key=K.TIMEPOINT, relapse_timepoint="relapse")
    assert sorted(window[K.SAMPLE]) == ["P2_M6", "P3_M12", "P3_M6", "P4_M12", "P4_M6"]
    result = rp.tl.compare_outcomes(table, landmark=180).set_index(K.TIMEPOINT)
    assert sorted(result.index) == ["M3", "M6"]
    assert result.loc["M6", "n_case"] == 1  # P1's M6 came after its relapse
    assert result.loc["M6", "effect"] == pytest.approx(7.0 - 2.5)
    assert result.loc["M3", "n_case"] == 2
    # pooled over the window, one value per patient: P1 3 -> its M3 only
    pooled = rp.tl.compare_outcomes(table, landmark=180, strata=(K.TISSUE,)).iloc[0]
    assert pooled["mean_case"] == pytest.approx((5.0 + 6.5) / 2)
    assert pooled["mean_control"] == pytest.approx((1.5 + 2.5) / 2)
    # a case without a relapse visit keeps its samples, with a warning
    no_visit = table[table[K.SAMPLE] != "P2_relapse"]
    with caplog.at_level(logging.WARNING, logger="repertoire"):
        late = rp.tl.compare_outcomes(no_visit, landmark=(0, 400)).set_index(K.TIMEPOINT)
    assert "case patient(s) P2" in caplog.text
    assert "M12" not in late.index  # P1's M12 is after its relapse; P2 has none
    with pytest.raises(rp.InputError, match="holds no day"):
        rp.tl.compare_outcomes(table, landmark=(100, 50))
    with pytest.raises(rp.InputError, match="number of days or"):
        rp.tl.compare_outcomes(table, landmark=(0, 90, 180))
    # sample metadata as .obs keeps it: categoricals (days too)
    categorical = table.astype({K.DAY: "category", K.TIMEPOINT: "category",
                                K.PATIENT: "category", K.OUTCOME: "category"})
    pd.testing.assert_frame_equal(rp.tl.compare_outcomes(categorical, landmark=180),
                                  rp.tl.compare_outcomes(table, landmark=180),
                                  check_categorical=False, check_dtype=False)


# prediction --------------------------------------------------------------------------------------


def test_predict_outcome_matches_a_leave_one_out_written_out() -> None:
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.preprocessing import StandardScaler

    rng = np.random.default_rng(3)
    table = pd.concat([
        two_against_three((2.0, 7.0), (1.0, 3.0, 5.0), niche="N1"),
        two_against_three(*np.split(rng.normal(size=5), [2]), niche="N2"),
    ], ignore_index=True)
    result = rp.tl.predict_outcome(table)
    summary = result["summary"].iloc[0]
    print(result["summary"].to_string())
    x = table.pivot_table(index=K.PATIENT, columns="niche", values="score").to_numpy()
    y = np.array([1, 1, 0, 0, 0])  # C0, C1, R0, R1, R2

    def held_out(labels):
        out = []
        for i in range(5):
            train = np.arange(5) != i
            scaler = StandardScaler().fit(x[train])  # fitted inside the fold
            model = LogisticRegression(max_iter=1000).fit(scaler.transform(x[train]),
                                                          labels[train])
            out.append(model.predict_proba(scaler.transform(x[[i]]))[0, 1])
        return np.array(out)

    with threadpool_limits(1):  # tiny fits: threads only cost
        observed = roc_auc_score(y, held_out(y))
        null = []
        for chosen in itertools.combinations(range(5), 2):
            labels = np.zeros(5, dtype=int)
            labels[list(chosen)] = 1
            null.append(roc_auc_score(labels, held_out(labels)))
        null = np.array(null)
        expected = held_out(y)
    assert summary["auc"] == pytest.approx(observed)
    assert summary["n_relabelings"] == 10
    assert summary["exact"]
    assert summary["p"] == pytest.approx(np.mean(null >= observed - 1e-9))
    assert summary["p_min"] == pytest.approx(np.mean(null >= null.max() - 1e-9))
    np.testing.assert_allclose(result["patients"]["probability"], expected)
    assert result["patients"][K.OUTCOME].tolist() == ["relapse"] * 2 + ["remission"] * 3
    assert result["summary"].attrs["params"]["random_state"] == 0


def test_predict_outcome_needs_two_patients_of_each_outcome() -> None:
    table = two_against_three((2.0,), (1.0, 3.0, 5.0))
    with pytest.raises(rp.InputError, match="at least two 'relapse'"):
        rp.tl.predict_outcome(table)


def test_predict_outcome_draws_relabelings_beyond_the_limit_and_imputes_in_the_folds() -> None:
    table = pd.concat([
        two_against_three((2.0, 7.0), (1.0, 3.0, 5.0), niche="N1"),
        two_against_three((0.5, np.nan), (0.1, 0.2, 0.3), niche="N2"),
    ], ignore_index=True)
    drawn = rp.tl.predict_outcome(table, max_relabelings=4, random_state=1)["summary"]
    again = rp.tl.predict_outcome(table, max_relabelings=4, random_state=1)["summary"]
    assert not drawn["exact"].iloc[0]
    assert drawn["n_relabelings"].iloc[0] == 5  # the observed labeling and four drawn
    assert drawn["n_features"].iloc[0] == 2  # C1's missing N2 is imputed within each fold
    pd.testing.assert_frame_equal(drawn, again)
    assert drawn["p_min"].iloc[0] <= drawn["p"].iloc[0] <= 1
