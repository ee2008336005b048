from __future__ import annotations

import warnings

import matplotlib
import pytest

import repertoire as rp

matplotlib.use("Agg")
warnings.filterwarnings("ignore", message="Support for Awkward Arrays is currently experimental")


@pytest.fixture(scope="session")
def small_cohort():
    """Three patients (one relapsing), every visit, about 150 cells per sample."""
    return rp.datasets.simulate_cohort(3, 1, cells_per_sample=150, seed=11)


@pytest.fixture(scope="session")
def small_cohort_dir(small_cohort, tmp_path_factory):
    """``small_cohort`` written as Cell Ranger-like files (BCR as AIRR TSV, TCR as 10x CSV)."""
    outdir = tmp_path_factory.mktemp("cohort")
    rp.datasets.write_cellranger(small_cohort, outdir)
    return outdir


@pytest.fixture(scope="session")
def cohort():
    """Three patients, one relapsing, 400 cells per sample; counts only, as read_cohort gives."""
    return rp.datasets.simulate_cohort(n_patients=3, n_relapse=1, cells_per_sample=400, seed=0)


@pytest.fixture(scope="session")
def cohort_qc(cohort):
    """``cohort`` with QC metrics and flags (no cell removed)."""
    adata = cohort.copy()
    rp.pp.qc(adata)
    return adata


@pytest.fixture(scope="session")
def processed(cohort_qc):
    """``cohort_qc`` without flagged cells, preprocessed to a graph and UMAP."""
    adata = rp.pp.filter_cells(cohort_qc, inplace=False)
    rp.pp.preprocess(adata, n_comps=30)
    return adata
