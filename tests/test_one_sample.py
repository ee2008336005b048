"""One sample as a scanpy user holds it: no sample_id, patient_id or timepoint in .obs.

Every tool whose default names such a column treats the cells as one batch; its results equal
those of the same sample carrying the column (one value for all cells), the peer here.
"""

from __future__ import annotations

import logging

import anndata as ad
import matplotlib.pyplot as plt
import pandas as pd
import pytest

import repertoire as rp
from repertoire import _keys as K

COHORT_COLUMNS = [K.SAMPLE, K.PATIENT, K.TIMEPOINT, K.DAY, K.TISSUE, K.OUTCOME]


@pytest.fixture(scope="module")
def one_sample(small_cohort) -> ad.AnnData:
    """The baseline blood sample of the small cohort's first patient, without cohort columns."""
    obs = small_cohort.obs
    cells = (obs[K.SAMPLE] == "P01_baseline_PB").to_numpy()
    sample = small_cohort[cells].copy()
    plain = ad.AnnData(obs=sample.obs.drop(columns=COHORT_COLUMNS), var=sample.var.copy(),
                       layers={K.COUNTS: sample.layers[K.COUNTS].copy()},
                       obsm={K.AIRR: sample.obsm[K.AIRR]})
    assert not set(COHORT_COLUMNS) & set(plain.obs.columns)
    return plain


def _analyse(adata: ad.AnnData) -> ad.AnnData:
    adata = adata.copy()
    rp.pp.qc(adata)
    rp.pp.filter_cells(adata)
    rp.pp.preprocess(adata)
    rp.tl.annotate(adata)
    rp.tl.detect_car(adata)
    rp.tl.bcr_state(adata)
    rp.tl.clonotypes(adata)
    rp.tl.diversity(adata)
    rp.tl.reconstitution(adata, n_boot=10)
    return adata


def test_one_sample_runs_as_one_batch(one_sample, caplog) -> None:
    with caplog.at_level(logging.INFO, logger="repertoire"):
        plain = _analyse(one_sample)
    labelled = one_sample.copy()
    labelled.obs[K.SAMPLE] = pd.Categorical(["all"] * labelled.n_obs)
    labelled.obs[K.PATIENT] = pd.Categorical(["all"] * labelled.n_obs)
    labelled = _analyse(labelled)
    assert not set(COHORT_COLUMNS) & set(plain.obs.columns)
    assert "column 'sample_id' is not in .obs: all" in caplog.text
    assert plain.obs_names.equals(labelled.obs_names)
    for column in (K.LINEAGE, K.CELL_TYPE, K.BCR_STATE, K.SHM_RATE, K.CLONE, K.CAR_DETECTED):
        pd.testing.assert_series_equal(plain.obs[column], labelled.obs[column])
    # against the simulator: the sample's cell types as well annotated as in the cohort
    truth = plain.obs[K.TRUE_CELL_TYPE]
    accuracy = (plain.obs[K.LINEAGE].astype(str) == plain.obs[K.TRUE_LINEAGE]).mean()
    print(f"one sample, {plain.n_obs} cells: lineage accuracy {accuracy:.3f}; "
          f"{truth.nunique()} true cell types")
    assert accuracy > 0.9
    samples = rp.get.reconstitution(plain)
    expected = rp.get.reconstitution(labelled).drop(columns=[K.PATIENT])
    pd.testing.assert_frame_equal(samples[expected.columns], expected, check_dtype=False)
    assert samples[K.SAMPLE].tolist() == ["all"]
    assert rp.get.reconstitution(plain, "outcomes").empty
    for draw in (rp.pl.qc, rp.pl.isotypes, rp.pl.shm, rp.pl.composition):
        draw(plain, show=False)
        plt.close("all")


def test_one_batch_leaves_inplace_false_untouched(one_sample) -> None:
    adata = one_sample.copy()
    rp.pp.qc(adata)
    before = list(adata.obs.columns)
    table = rp.tl.composition(adata, groupby=K.TRUE_LINEAGE)
    assert list(adata.obs.columns) == before
    assert table[K.SAMPLE].unique().tolist() == ["all"]
    assert table["n_cells"].sum() == adata.n_obs


def test_tools_that_need_the_cohort_keep_their_error(one_sample) -> None:
    adata = one_sample.copy()
    rp.tl.clonotypes(adata)
    # following clones needs patients and days: nothing to follow in one sample
    with pytest.raises(rp.InputError, match=r"'patient_id' is not in \.obs"):
        rp.tl.track_clones(adata)
    with pytest.raises(rp.InputError, match=r"'lineage_typo' is not in \.obs"):
        rp.pp.qc(adata, batch_key="lineage_typo")
