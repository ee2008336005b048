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


def _prepared(n_patients: int, n_relapse: int, seed: int):
    """A simulated cohort after QC, filtering and preprocessing (receptors dropped)."""
    adata = rp.datasets.simulate_cohort(n_patients, n_relapse, cells_per_sample=300, seed=seed)
    del adata.obsm["airr"]
    rp.pp.qc(adata)
    rp.pp.filter_cells(adata)
    rp.pp.preprocess(adata)
    return adata


@pytest.fixture(scope="session")
def preprocessed_cohort():
    """Four patients (one relapsing), seed 7 (not the example's), preprocessed: ~11,000 cells."""
    return _prepared(4, 1, seed=7)


@pytest.fixture(scope="session")
def annotated_cohort(preprocessed_cohort):
    """``preprocessed_cohort`` with cell identities and CAR detection."""
    adata = preprocessed_cohort.copy()
    rp.tl.annotate(adata)
    rp.tl.detect_car(adata)
    return adata


@pytest.fixture(scope="session")
def full_cohort():
    """Eleven patients (two relapsing), seed 7, preprocessed: ~27,000 cells (slow tests)."""
    return _prepared(11, 2, seed=7)
