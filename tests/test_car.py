"""CAR detection: the ambient estimate by hand, the Poisson threshold, and the simulator's truth."""

from __future__ import annotations

import logging

import anndata as ad
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from scipy import stats

import repertoire as rp
from repertoire import _keys as K


def _cells(car: list[int], library: list[int], lineage: list[str],
           samples: list[str] | None = None) -> ad.AnnData:
    """Cells with given CAR reads and total reads (the rest on one other gene)."""
    counts = np.column_stack([car, np.subtract(library, car)]).astype(np.float32)
    obs = pd.DataFrame({
        K.SAMPLE: pd.Categorical(samples or ["S1"] * len(car)),
        K.LINEAGE: pd.Categorical(lineage),
    }, index=[f"c{i}" for i in range(len(car))])
    adata = ad.AnnData(obs=obs, var=pd.DataFrame(index=[K.CAR_FEATURE, "GENE"]))
    adata.layers[K.COUNTS] = sp.csr_matrix(counts)
    return adata


def test_ambient_fraction_and_threshold_by_hand():
    # 40 myeloid and NK cells of 1,000 reads hold 3 CAR reads in all; one NK cell with 9 CAR
    # reads (a mislabelled CAR-T cell) is set aside from the estimate
    car = [1, 1, 1] + [0] * 36 + [9] + [0, 1, 2, 3, 6]
    lineage = ["myeloid"] * 20 + ["NK"] * 20 + ["T"] * 5
    adata = _cells(car, [1000] * 45, lineage)
    rp.tl.detect_car(adata)
    table = adata.uns[K.CAR_DETECTED]["samples"]
    fraction = (3 + 0.5) / 39_000
    assert table["ambient_fraction"].iloc[0] == pytest.approx(fraction)
    assert table["n_reference_set_aside"].iloc[0] == 1
    expected = 1000 * fraction  # 0.0897 ambient CAR reads per cell
    # P(X >= 1) = 0.086, P(X >= 2) = 0.0038 < 0.01: two reads are needed
    assert stats.poisson.sf(0, expected) > 0.01 > stats.poisson.sf(1, expected)
    assert table["car_umis_needed_at_median"].iloc[0] == 2
    detected = adata.obs[K.CAR_DETECTED].to_numpy()
    np.testing.assert_array_equal(detected[-5:], [False, False, True, True, True])
    assert detected[39]  # the mislabelled CAR-T cell
    assert not detected[:39].any()
    assert table["n_car_detected_T"].iloc[0] == 3
    assert table["car_detected_fraction_of_T"].iloc[0] == pytest.approx(3 / 5)


def test_larger_libraries_need_more_reads():
    lineage = ["myeloid"] * 50 + ["T"] * 2
    car = [1] * 25 + [0] * 25 + [4, 4]
    adata = _cells(car, [2000] * 50 + [2000, 40000], lineage)
    rp.tl.detect_car(adata)
    # ambient 25.5 / 100,000 reads: 0.51 expected in 2,000 reads, 10.2 in 40,000
    assert adata.obs[K.CAR_DETECTED].tolist()[-2:] == [True, False]


def test_a_sample_without_reference_cells_uses_the_cohort():
    car = [1] * 10 + [0] * 30 + [0, 5, 5]
    lineage = ["B"] * 40 + ["T"] * 3
    samples = ["S1"] * 40 + ["S2"] * 3
    adata = _cells(car, [1000] * 43, lineage, samples)
    rp.tl.detect_car(adata)
    table = adata.uns[K.CAR_DETECTED]["samples"].set_index(K.SAMPLE)
    assert table.loc["S2", "source"] == "cohort"
    assert table.loc["S2", "ambient_fraction"] == pytest.approx(10.5 / 40_000)
    assert table.loc["S1", "source"] == "sample"
    assert adata.obs[K.CAR_DETECTED].tolist()[-3:] == [False, True, True]


def test_no_car_feature_logs_once_and_writes_nothing(caplog):
    adata = _cells([0, 1], [100, 100], ["T", "B"])
    adata = adata[:, ["GENE"]].copy()
    with caplog.at_level(logging.INFO, logger="repertoire"):
        assert rp.tl.detect_car(adata) is None
    messages = [r for r in caplog.records if K.CAR_FEATURE in r.getMessage()]
    assert len(messages) == 1
    assert K.CAR_DETECTED not in adata.obs
    assert K.CAR_DETECTED not in adata.uns


def test_lineages_are_required():
    adata = _cells([0, 1], [100, 100], ["T", "B"])
    del adata.obs[K.LINEAGE]
    with pytest.raises(rp.InputError, match=r"'lineage' is not in \.obs; run repertoire\.tl"):
        rp.tl.detect_car(adata)
    only_t = _cells([0, 1], [100, 100], ["T", "T"])
    with pytest.raises(rp.InputError, match="ambient CAR reads cannot be estimated"):
        rp.tl.detect_car(only_t)


def test_inplace_false_returns_the_table_and_leaves_adata():
    adata = _cells([1, 0, 0, 7], [1000] * 4, ["myeloid", "myeloid", "NK", "T"])
    _, table = rp.tl.detect_car(adata, min_reference_cells=1, inplace=False)
    assert list(table[K.SAMPLE]) == ["S1"]
    assert K.CAR_DETECTED not in adata.obs
    assert K.CAR_DETECTED not in adata.uns


def test_car_detection_against_the_truth(annotated_cohort):
    obs = annotated_cohort.obs[~annotated_cohort.obs[K.TRUE_DOUBLET].astype(bool)]
    car = obs[K.TRUE_CAR].astype(bool)
    detected = obs[K.CAR_DETECTED].astype(bool)
    recall = float(detected[car].mean())
    non_t = obs[K.TRUE_LINEAGE] != "T"
    false_non_t = float(detected[non_t].mean())
    false_t = float(detected[~car & ~non_t].mean())
    table = annotated_cohort.uns[K.CAR_DETECTED]["samples"]
    print(f"\nCAR: recall {recall:.4f} of {car.sum()} CAR-T cells; false positives "
          f"{false_non_t:.4f} of {non_t.sum()} non-T cells, {false_t:.4f} of other T cells; "
          f"{table['expected_by_chance'].sum():.1f} expected by chance")
    print(table[[K.SAMPLE, "ambient_fraction", "car_umis_needed_at_median", "n_car_detected",
                 "car_detected_fraction_of_T"]].head(14).to_string())
    assert recall >= 0.9
    assert false_non_t <= 0.01
    before = table[table[K.SAMPLE].str.contains("baseline")]
    assert before["n_car_detected"].sum() <= 0.01 * before["n_cells"].sum()
