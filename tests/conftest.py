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
