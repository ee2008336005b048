"""CAR transgene detection against each sample's ambient CAR reads."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import scipy.sparse as sp
from anndata import AnnData
from scipy import stats

from .. import _keys as K
from .._docs import doc_params
from .._errors import InputError
from .._logging import logger
from .._utils import batches, gene_index, require_layer, require_obs, store

# lineages that cannot carry a CAR made from T cells: their CAR reads are ambient
REFERENCE = ("B", "plasma", "NK", "myeloid", "other")
PSEUDOCOUNT = 0.5  # added to the reference CAR reads, so that none seen is not "no ambient"
MAX_ROUNDS = 20


@doc_params
def detect_car(
    adata: AnnData,
    *,
    feature: str = K.CAR_FEATURE,
    layer: str | None = K.COUNTS,
    batch_key: str | None = K.SAMPLE,
    lineage_key: str = K.LINEAGE,
    reference: Sequence[str] = REFERENCE,
    alpha: float = 0.01,
    min_reference_cells: int = 20,
    gene_symbols: str | None = None,
    key_added: str = K.CAR_DETECTED,
    inplace: bool = True,
) -> tuple[pd.DataFrame, pd.DataFrame] | None:
    """Call CAR-detected cells from the CAR transgene's reads, above each sample's ambient.

    Free CAR transcripts from lysed cells are captured in every droplet of a sample (ambient
    RNA), so a CAR read alone does not make a CAR-T cell. Per sample, the ambient CAR fraction
    is the share of CAR reads among all reads of cells that cannot carry the CAR (lineages in
    ``reference``; B cells are often absent after CAR-T, so the others count too), after
    setting aside reference cells that are themselves significant (mislabelled CAR-T cells or
    doublets) until the estimate is stable. A cell expects ``ambient fraction x its total
    reads`` CAR reads by chance; it is CAR-detected when its count is improbable under that
    Poisson expectation (upper tail below ``alpha``). Other cells are CAR-undetected: a CAR
    transcript may be present yet not captured. Samples with fewer than
    ``min_reference_cells`` reference cells use the cohort's ambient fraction.

    Parameters
    ----------
    {adata}
        With cell lineages in ``.obs`` (see :func:`repertoire.tl.annotate`).
    feature
        The CAR transgene's feature (matched case-insensitively).
    {counts_layer}
    batch_key
        Column of ``.obs`` with one ambient estimate per value (a 10x channel, or a sample);
        ``None``, or ``sample_id`` absent from ``.obs`` (one sample on its own), makes one
        estimate for all cells.
    lineage_key
        Column of ``.obs`` holding the lineage of each cell.
    reference
        Lineages whose CAR reads are ambient.
    alpha
        Per-cell false-positive rate of the Poisson test: at most this share of cells
        without a CAR is called CAR-detected by chance (fewer, as counts are whole numbers).
    min_reference_cells
        Fewest reference cells for a sample's own estimate.
    gene_symbols
        Column of ``.var`` holding feature names; ``None`` uses ``.var_names``.
    {key_added}
    {inplace}

    Returns
    -------
    With ``inplace=False``, the per-cell call (a table indexed like ``.obs`` with the boolean
    column ``key_added``) and the per-sample table of ambient estimates (below), or ``None``
    when the data hold no such feature. Otherwise ``None``; ``.obs[key_added]`` (boolean)
    marks CAR-detected cells and ``.uns[key_added]`` holds ``"samples"`` (per sample: cells,
    reference cells and their reads, CAR reads, reference cells set aside, ``ambient_fraction``
    and its ``source`` (sample or cohort), the CAR reads needed at the median library size,
    CAR-detected cells, the number expected by chance from ambient reads alone
    (``expected_by_chance``), and CAR-detected T cells as a count and a fraction of T cells),
    ``"cohort_ambient_fraction"`` (the estimate used for samples with too few reference cells)
    and ``"params"``. Without the feature one message is logged and nothing is written.
    """
    require_layer(adata, layer)
    require_obs(adata, lineage_key, hint=(
        "; run repertoire.tl.annotate first (the cells of non-T lineages measure the ambient "
        "CAR reads)"
    ))
    if not 0 < alpha < 1:
        raise InputError(f"alpha {alpha} must lie between 0 and 1.")
    column = gene_index(adata, gene_symbols).get(feature.upper())
    if column is None:
        logger.warning("no feature '%s' in the data: CAR detection skipped, '%s' not written",
                       feature, key_added)
        return None
    counts = adata.X if layer is None else adata.layers[layer]
    car = _column(counts, column)
    library = np.asarray(counts.sum(axis=1), dtype=np.float64).ravel()
    lineage = adata.obs[lineage_key].astype(str).to_numpy()
    is_reference = np.isin(lineage, list(reference))
    labels = batches(adata.obs, batch_key)

    if not is_reference.any():
        raise InputError(
            f"no cell of lineage {', '.join(reference)} in .obs['{lineage_key}']: the ambient "
            "CAR reads cannot be estimated."
        )
    samples = [
        (sample, cells.to_numpy())
        for sample, cells in pd.Series(np.arange(adata.n_obs)).groupby(labels.to_numpy(),
                                                                       observed=True)
    ]
    kept = np.zeros(adata.n_obs, dtype=bool)
    for _, cells in samples:
        kept[cells] = _ambient_cells(car[cells], library[cells], is_reference[cells], alpha)
    cohort = _fraction(car[kept], library[kept])
    detected = np.zeros(adata.n_obs, dtype=bool)
    rows = []
    for sample, cells in samples:
        reference_cells = cells[is_reference[cells]]
        own = len(reference_cells) >= min_reference_cells
        used = reference_cells[kept[reference_cells]]
        fraction = _fraction(car[used], library[used]) if own else cohort
        expected = library[cells] * fraction
        detected[cells] = _significant(car[cells], expected, alpha)
        t_cells = cells[lineage[cells] == "T"]
        rows.append({
            K.SAMPLE if batch_key is None else batch_key: sample,
            "n_cells": len(cells), "n_reference": len(reference_cells),
            "reference_umis": float(library[used].sum()),
            "reference_car_umis": float(car[used].sum()),
            "n_reference_set_aside": int(len(reference_cells) - len(used)),
            "ambient_fraction": fraction, "source": "sample" if own else "cohort",
            "car_umis_needed_at_median": _needed(np.median(library[cells]) * fraction, alpha),
            "n_car_detected": int(detected[cells].sum()),
            "expected_by_chance": _by_chance(expected, alpha),
            "n_T": len(t_cells), "n_car_detected_T": int(detected[t_cells].sum()),
            "car_detected_fraction_of_T": (
                float(detected[t_cells].mean()) if len(t_cells) else np.nan
            ),
        })
    table = pd.DataFrame(rows)
    logger.info("%d CAR-detected cells (%d T cells) over %d samples", detected.sum(),
                table["n_car_detected_T"].sum(), len(table))
    cells = pd.DataFrame({key_added: detected}, index=adata.obs_names)
    return store(
        adata, key_added, inplace=inplace, result=(cells, table), obs=cells,
        tables={K.TABLE_SAMPLES: table}, uns={"cohort_ambient_fraction": cohort},
        params={"feature": feature, "layer": layer, "batch_key": batch_key,
                "lineage_key": lineage_key, "reference": list(reference), "alpha": alpha,
                "min_reference_cells": min_reference_cells, "gene_symbols": gene_symbols,
                "pseudocount": PSEUDOCOUNT},
    )


def _column(matrix, column: int) -> np.ndarray:
    values = matrix[:, column]
    values = values.toarray() if sp.issparse(values) else np.asarray(values)
    return values.ravel().astype(np.float64)


def _fraction(car: np.ndarray, library: np.ndarray) -> float:
    """Ambient CAR reads per read, with a half read added so that none seen is not zero."""
    return float((car.sum() + PSEUDOCOUNT) / max(library.sum(), 1.0))


def _significant(car: np.ndarray, expected: np.ndarray, alpha: float) -> np.ndarray:
    """Whether each count is improbably high for a Poisson count of mean ``expected``."""
    return (car > 0) & (stats.poisson.sf(car - 1, expected) < alpha)


def _needed(expected: float, alpha: float) -> int:
    """Return the fewest CAR reads that a cell expecting ``expected`` ambient reads needs."""
    return int(stats.poisson.isf(alpha, expected)) + 1


def _by_chance(expected: np.ndarray, alpha: float) -> float:
    """Return expected number of cells called on ambient reads alone (the test's realised tails)."""
    needed = stats.poisson.isf(alpha, expected) + 1
    return float(stats.poisson.sf(needed - 1, expected).sum())


def _ambient_cells(car: np.ndarray, library: np.ndarray, reference: np.ndarray,
                   alpha: float) -> np.ndarray:
    """Return the reference cells whose CAR reads are ambient (significant ones set aside)."""
    kept = reference.copy()
    if not kept.any():
        return kept
    for _ in range(MAX_ROUNDS):
        fraction = _fraction(car[kept], library[kept])
        outliers = kept & _significant(car, library * fraction, alpha)
        if not outliers.any():
            break
        kept &= ~outliers
    return kept
