from __future__ import annotations

import os
import shutil
import warnings
from dataclasses import dataclass
from pathlib import Path

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


# ---------------------------------------------------------------- a real browser

#: where tests keep what a person should look at (screenshots of every report page)
TEST_OUTPUT = Path(os.environ.get("REPERTOIRE_TEST_OUTPUT",
                                  Path(__file__).resolve().parents[1] / "test-output"))


@pytest.fixture(scope="session")
def test_output() -> Path:
    """The folder where tests keep what a person should look at (``test-output/``)."""
    TEST_OUTPUT.mkdir(parents=True, exist_ok=True)
    return TEST_OUTPUT


@dataclass
class PageVisit:
    """What a headless browser saw on one page: console errors, failed requests, images."""

    console_errors: list[str]
    failed_requests: list[str]
    n_images: int
    broken_images: list[str]
    screenshot: Path


@pytest.fixture(scope="session")
def browser():
    """Open pages in headless Chromium (Debian's, through Playwright), one visit at a time.

    Yields a function ``visit(page, screenshot) -> PageVisit``. Without Chromium or
    Playwright the tests using it are skipped, unless ``REPERTOIRE_REQUIRE_BROWSER`` is set
    (as CI sets it), when they fail.
    """
    executable = shutil.which("chromium") or shutil.which("chromium-browser")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        sync_playwright = None
    if executable is None or sync_playwright is None:
        reason = "chromium is not installed" if executable is None else "playwright is missing"
        if os.environ.get("REPERTOIRE_REQUIRE_BROWSER"):
            pytest.fail(f"browser tests required but {reason}")
        pytest.skip(reason)
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=executable,
                                              args=["--no-sandbox", "--disable-gpu"])

        def visit(page_path: Path, screenshot: Path) -> PageVisit:
            page = instance.new_page(viewport={"width": 1100, "height": 900})
            errors, failed = [], []
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on("requestfailed", lambda r: failed.append(r.url))
            page.goto(Path(page_path).resolve().as_uri(), wait_until="load")
            images = page.evaluate(
                "Array.from(document.images).map(i => [i.alt, i.complete && i.naturalWidth > 0])")
            screenshot.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(screenshot), full_page=True)
            page.close()
            return PageVisit(errors, failed, len(images), [a for a, ok in images if not ok],
                             screenshot)

        yield visit
        instance.close()
