"""The embedded example cohort."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from anndata import AnnData

from .. import _keys as K
from .._errors import InputError
from ..io import read_cohort

# the example cohort ships inside the wheel under this name and lives at the repository root
# in a source checkout
_PACKAGED = Path(__file__).resolve().parent / "example_data"
_CHECKOUT = Path(__file__).resolve().parents[2] / "example_data"


def example_dir() -> Path:
    """Locate the example cohort.

    Returns
    -------
    The directory holding its Cell Ranger-like files, ``samples.tsv`` and ``truth/``.
    """
    for candidate in (_PACKAGED, _CHECKOUT):
        if (candidate / "samples.tsv").exists():
            return candidate
    raise InputError(f"the example cohort is missing: neither {_PACKAGED} nor {_CHECKOUT} exists.")


def example(*, truth: bool = True) -> AnnData:
    """Load the embedded example cohort: 11 patients, every timepoint, blood and marrow.

    It was made by ``simulate_cohort(11, 2, cells_per_sample=180, seed=0)`` and written with
    :func:`write_cellranger` (see ``example_data/README.md``); this reads it back through
    :func:`repertoire.io.read_cohort`, exactly as a user's cohort is read.

    Parameters
    ----------
    truth
        Add the simulator's ground truth: ``true_*`` columns in ``.obs``,
        ``.uns["true_samples"]``.

    Returns
    -------
    The cohort as :func:`repertoire.io.read_cohort` returns it.
    """
    directory = example_dir()
    adata = read_cohort(directory / "samples.tsv")
    if truth:
        cells = pd.read_csv(directory / "truth" / "cells.tsv.gz", sep="\t")
        cells.index = cells[K.SAMPLE] + "_" + cells[K.BARCODE]
        truth_columns = [c for c in cells.columns if c.startswith(K.TRUE_PREFIX)]
        for column in truth_columns:
            adata.obs[column] = cells[column].reindex(adata.obs_names).to_numpy()
        adata.uns[K.TRUE_SAMPLES] = pd.read_csv(directory / "truth" / "samples.tsv", sep="\t")
    return adata
