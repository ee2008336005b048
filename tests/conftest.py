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


def _preprocessed(n_patients: int, n_relapse: int, *, cells_per_sample: int, seed: int):
    """A simulated cohort after QC (cells flagged as low quality or doublet removed) and
    preprocessing, as the workflow leaves it."""
    adata = rp.datasets.simulate_cohort(n_patients, n_relapse, cells_per_sample=cells_per_sample,
                                        seed=seed)
    rp.pp.qc(adata)
    rp.pp.filter_cells(adata)
    rp.pp.preprocess(adata)
    return adata


def _annotated(adata):
    adata = adata.copy()
    rp.tl.annotate(adata)
    rp.tl.detect_car(adata)
    return adata


def _analysed(adata, *, n_boot: int = 500):
    """A copy of ``adata`` after the BCR analysis: states, clones, diversity, tracking,
    reconstitution."""
    adata = adata.copy()
    rp.tl.bcr_state(adata)
    rp.tl.clonotypes(adata)
    rp.tl.diversity(adata)
    rp.tl.track_clones(adata)
    rp.tl.reconstitution(adata, n_boot=n_boot)
    return adata


@pytest.fixture(scope="session")
def analyse():
    """The BCR analysis of the cohort fixtures, for tests that build their own cohort."""
    return _analysed


@pytest.fixture(scope="session")
def preprocessed_cohort():
    """Four patients (two relapsing), seed 7 (not the example's), ~500 cells per sample, after
    QC and preprocessing: about 16,500 cells."""
    return _preprocessed(4, 2, cells_per_sample=500, seed=7)


@pytest.fixture(scope="session")
def annotated_cohort(preprocessed_cohort):
    """``preprocessed_cohort`` with cell identities and CAR detection."""
    return _annotated(preprocessed_cohort)


@pytest.fixture(scope="session")
def bcr_cohort(annotated_cohort):
    """``annotated_cohort`` after the whole BCR analysis: states, clones, diversity, tracking,
    reconstitution."""
    return _analysed(annotated_cohort)


@pytest.fixture(scope="session")
def full_cohort():
    """Eleven patients (two relapsing), seed 7, 300 cells per sample, annotated and analysed
    (slow tests)."""
    return _analysed(_annotated(_preprocessed(11, 2, cells_per_sample=300, seed=7)))
