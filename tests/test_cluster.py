"""Leiden clustering: agreement with the simulated identities, resolutions, determinism."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scanpy as sc
from sklearn.metrics import adjusted_rand_score

import repertoire as rp
from repertoire import _keys as K

RESOLUTIONS = (0.2, 0.5, 1.0)


@pytest.fixture(scope="module")
def clustered(preprocessed_cohort):
    adata = preprocessed_cohort.copy()
    rp.tl.cluster(adata, resolutions=RESOLUTIONS)
    return adata


def _purity(clusters: pd.Series, truth: pd.Series) -> float:
    """Share of cells whose cluster's most common true label is their own."""
    table = pd.crosstab(clusters, truth)
    return table.max(axis=1).sum() / table.to_numpy().sum()


def test_clusters_agree_with_true_lineages_and_cell_types(clustered):
    singlets = ~clustered.obs[K.TRUE_DOUBLET].to_numpy()
    obs = clustered.obs[singlets]
    lineage, cell_type = obs[K.TRUE_LINEAGE], obs[K.TRUE_CELL_TYPE]
    for key in clustered.uns[K.LEIDEN]["params"]["keys"]:
        clusters = obs[key]
        # clusters nest inside lineages: merging each cluster into its majority lineage
        majority = pd.crosstab(clusters, lineage).idxmax(axis=1)
        merged = clusters.map(majority).astype(str)
        scores = {
            "ARI lineage": adjusted_rand_score(lineage, clusters),
            "ARI cell type": adjusted_rand_score(cell_type, clusters),
            "ARI lineage, clusters merged by majority": adjusted_rand_score(lineage, merged),
            "lineage purity": _purity(clusters, lineage),
        }
        print(key, clusters.nunique(), "clusters;",
              "; ".join(f"{name} {value:.3f}" for name, value in scores.items()))
        assert scores["lineage purity"] >= 0.97
        assert scores["ARI lineage, clusters merged by majority"] >= 0.95
        assert scores["ARI cell type"] >= 0.6
    # every lineage with at least 1% of the cells has a cluster of its own
    first = obs[clustered.uns[K.LEIDEN]["params"]["keys"][-1]]
    majority = pd.crosstab(first, lineage).idxmax(axis=1)
    common = lineage.value_counts(normalize=True)
    assert set(common.index[common >= 0.01]) <= set(majority)


def test_resolutions_give_one_column_each_and_more_clusters_when_higher(clustered):
    keys = clustered.uns[K.LEIDEN]["params"]["keys"]
    assert keys == [f"{K.LEIDEN}_r{r}" for r in RESOLUTIONS]
    counts = clustered.uns[K.LEIDEN]["n_clusters"]
    assert counts == [clustered.obs[k].nunique() for k in keys]
    assert counts == sorted(counts)
    assert clustered.obs[K.LEIDEN].equals(clustered.obs[keys[0]])
    sizes = clustered.obs[keys[0]].value_counts(sort=False).to_numpy()
    assert (np.diff(sizes) <= 0).all(), "clusters are numbered by size"


def test_same_seed_same_clusters_and_matches_scanpy(preprocessed_cohort, clustered):
    processed = preprocessed_cohort
    table = rp.tl.cluster(processed, resolutions=RESOLUTIONS, inplace=False)
    assert K.LEIDEN not in processed.obs
    for key in clustered.uns[K.LEIDEN]["params"]["keys"]:
        pd.testing.assert_series_equal(table[key], clustered.obs[key])
    reference = processed.copy()
    sc.tl.leiden(reference, resolution=RESOLUTIONS[0], flavor="igraph", n_iterations=-1,
                 directed=False, random_state=0)
    assert adjusted_rand_score(reference.obs["leiden"], clustered.obs[K.LEIDEN]) == 1.0


def test_cluster_needs_a_graph():
    adata = rp.datasets.simulate_cohort(1, 0, cells_per_sample=30, seed=1)
    with pytest.raises(rp.InputError, match="neighbors"):
        rp.tl.cluster(adata)
    with pytest.raises(rp.InputError, match="resolutions"):
        rp.tl.cluster(adata, resolutions=())
