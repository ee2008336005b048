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


def stand_in_annotation(adata):
    """Fill the transcriptome's calls from the simulator's truth.

    ``.obs["lineage"]``, ``["cell_type"]`` and ``["car_detected"]`` are written by the
    annotation step; until the tests run it, they are stood in by ``true_lineage``,
    ``true_cell_type`` and ``true_car`` so that only their source changes later.
    """
    from repertoire import _keys as K

    adata.obs[K.LINEAGE] = adata.obs[K.TRUE_LINEAGE].astype("category")
    adata.obs[K.CELL_TYPE] = adata.obs[K.TRUE_CELL_TYPE].astype("category")
    adata.obs[K.CAR_DETECTED] = adata.obs[K.TRUE_CAR].astype(bool)
    return adata


@pytest.fixture(scope="session")
def bcr_cohort():
    """Four patients (two relapsing), seed 7, about 500 cells per sample, QC'd by the truth.

    Simulated doublets and damaged cells are removed (as QC does), the annotation is stood in
    by the truth (see :func:`stand_in_annotation`), and the whole BCR analysis has run.
    """
    from repertoire import _keys as K

    adata = rp.datasets.simulate_cohort(4, 2, cells_per_sample=500, seed=7, spatial=False)
    keep = ~(adata.obs[K.TRUE_DOUBLET] | adata.obs[K.TRUE_LOW_QUALITY]).to_numpy()
    adata = stand_in_annotation(adata[keep].copy())
    rp.tl.bcr_state(adata)
    rp.tl.clonotypes(adata)
    rp.tl.diversity(adata)
    rp.tl.track_clones(adata)
    rp.tl.reconstitution(adata, n_boot=500)
    return adata


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
