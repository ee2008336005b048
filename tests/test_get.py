"""Tidy tables out of an analysed AnnData: what the command line, workflow and reports read."""

from __future__ import annotations

import anndata as ad
import pandas as pd
import pytest

import repertoire as rp
from repertoire import _keys as K


def test_cluster_counts_is_tidy() -> None:
    obs = pd.DataFrame({
        K.SAMPLE: pd.Categorical(["a", "a", "b", "b", "b"]),
        "leiden_r1.0": pd.Categorical(["0", "1", "0", "0", "0"]),
    })
    table = rp.get.cluster_counts(ad.AnnData(obs=obs), keys=["leiden_r1.0"])
    assert len(table) == 4
    assert table.groupby(K.SAMPLE, observed=True)["fraction"].sum().tolist() == [1.0, 1.0]
    zero = table[(table["cluster"] == "1") & (table[K.SAMPLE] == "b")]
    assert zero["n_cells"].tolist() == [0]


def test_tables_are_copies_of_the_stored_results(bcr_cohort) -> None:
    stored = bcr_cohort.uns[K.RECONSTITUTION][K.TABLE_SAMPLES]
    table = rp.get.reconstitution(bcr_cohort)
    pd.testing.assert_frame_equal(table, stored)
    table.loc[:, "n_B"] = -1
    assert (stored["n_B"] >= 0).all()
    for name in ("samples", "clones", "occurrences"):
        pd.testing.assert_frame_equal(rp.get.clone_tracking(bcr_cohort, name),
                                      bcr_cohort.uns[K.CLONE_TRACKING][name])


@pytest.mark.parametrize(("function", "producer"), [
    (rp.get.qc, "repertoire.pp.qc"),
    (rp.get.annotation, "repertoire.tl.annotate"),
    (rp.get.bcr_states, "repertoire.tl.bcr_state"),
    (rp.get.clones, "repertoire.tl.clonotypes"),
    (rp.get.diversity, "repertoire.tl.diversity"),
    (rp.get.clone_tracking, "repertoire.tl.track_clones"),
    (rp.get.reconstitution, "repertoire.tl.reconstitution"),
    (rp.get.cluster_keys, "repertoire.tl.cluster"),
])
def test_a_missing_result_names_the_tool_that_makes_it(function, producer) -> None:
    with pytest.raises(rp.InputError, match=producer.replace(".", r"\.")):
        function(ad.AnnData(obs=pd.DataFrame(index=["c1"])))


def test_an_unknown_table_is_named(bcr_cohort) -> None:
    with pytest.raises(rp.InputError, match="table 'cells' is not one of samples, outcomes"):
        rp.get.reconstitution(bcr_cohort, "cells")


def test_car_without_a_car_feature_is_an_empty_table() -> None:
    table = rp.get.car(ad.AnnData(obs=pd.DataFrame(index=["c1"])))
    assert list(table.columns) == [K.SAMPLE]
    assert table.empty
