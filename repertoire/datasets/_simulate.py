"""A simulated CD19 CAR-T cohort with ground truth, generated sample by sample."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, dataclass

import awkward as ak
import numpy as np
import pandas as pd
from anndata import AnnData

from .. import _keys as K
from .._logging import logger, progress
from ..io import concat_samples
from ._design import (
    BCR_STATE_OF,
    CELL_TYPES,
    LINEAGE_OF,
    Patient,
    Visit,
    car_fraction,
    composition,
    niche_probability,
    plan_patients,
    plan_visits,
)
from ._expression import (
    NICHE_HELPER_TYPES,
    NICHE_SENDER_TYPES,
    cell_levels,
    sample_counts,
    transcriptome,
)
from ._repertoire import BRepertoire, CellReceptor, TRepertoire, contig_records
from ._spatial import place_cells
from ._vdj_genes import constant_gene

COMPOSITION_CONCENTRATION = 300.0  # Dirichlet concentration of sample-to-sample variation


@dataclass(frozen=True)
class SimulationParams:
    """Every argument of a simulation; recorded in ``.uns["simulation"]``."""

    n_patients: int = 11
    n_relapse: int = 2
    cells_per_sample: int = 300
    median_umis: float = 2500.0
    niche_strength: float = 1.0
    doublet_rate: float = 0.04
    low_quality_rate: float = 0.04
    spatial: bool = True
    seed: int = 0


def simulate_cohort(
    n_patients: int = 11,
    n_relapse: int = 2,
    *,
    cells_per_sample: int = 300,
    median_umis: float = 2500.0,
    niche_strength: float = 1.0,
    doublet_rate: float = 0.04,
    low_quality_rate: float = 0.04,
    spatial: bool = True,
    seed: int = 0,
) -> AnnData:
    """Simulate a post-CAR-T cohort shaped like the study it models, with ground truth.

    Every patient has blood at baseline (before lymphodepletion), day 14, day 28, month 3,
    month 6 and month 12, bone marrow at baseline and month 6, and relapsing patients a relapse
    visit. B cells are absent at days 14 and 28 (aplasia) and return as transitional then naive
    cells; in relapsing patients memory and double-negative B cells come back from pre-treatment
    clones, Tfh/Tph cells expand with CXCL13, IL21 and CD40LG, and long-lived plasma cells persist
    in marrow niches with APRIL, BAFF and IL-6 senders. CAR-T cells carry the transgene feature
    ``CAR_FMC63_BBz`` and peak at day 14.

    Counts are negative binomial over 2,393 genes (marker, ligand and receptor, mitochondrial,
    ribosomal, housekeeping and background genes) with library-size variation, per-patient and
    per-sample batch effects, ambient RNA, heterotypic doublets and damaged cells. B and T cells
    carry 10x-style BCR and TCR contigs with IMGT-gapped alignments, somatic hypermutation in
    memory and plasma cells (none in naive ones) and clones that persist across timepoints.

    Parameters
    ----------
    n_patients
        Number of patients.
    n_relapse
        How many of them relapse (drawn at random).
    cells_per_sample
        Mean number of cell barcodes per sample (each sample varies by +-30%).
    median_umis
        Median UMIs of a lymphocyte; other cell types scale from it.
    niche_strength
        Strength of the relapse niche: Tfh/Tph expansion and their CXCL13/IL21/CD40LG, marrow
        APRIL/BAFF/IL-6 senders, persistence of long-lived plasma cells and their spatial
        clustering. ``0`` gives a null cohort in which relapse differs from remission only in
        the return of memory B cells and their pre-treatment clones.
    doublet_rate
        Fraction of barcodes that are doublets.
    low_quality_rate
        Fraction of barcodes that are damaged cells (low counts, high mitochondrial fraction).
    spatial
        Give bone-marrow samples cell coordinates in ``.obsm["spatial"]``.
    seed
        Seed of the simulation; the same seed gives the same cohort.

    Returns
    -------
    The cohort as :func:`repertoire.io.read_cohort` returns it (counts in ``.layers["counts"]``,
    sample metadata in ``.obs``, receptors in ``.obsm["airr"]``), plus ground truth:
    ``.obs`` columns ``true_lineage``, ``true_cell_type``, ``true_bcr_state``, ``true_clone``,
    ``true_doublet``, ``true_low_quality``, ``true_car``, ``true_isotype``, ``true_shm_rate``
    (heavy-chain mutations in IMGT V positions 1-312 divided by 312, the definition of
    :func:`scirpy.tl.mutational_load` for region ``v``), ``true_preexisting`` (B-lineage clone
    present before therapy) and ``true_niche``; ``.uns["true_samples"]`` (one row per sample)
    and ``.uns["true_patients"]``; ``.uns["simulation"]``, the arguments.
    """
    params = SimulationParams(
        n_patients, n_relapse, cells_per_sample=cells_per_sample, median_umis=median_umis,
        niche_strength=niche_strength, doublet_rate=doublet_rate,
        low_quality_rate=low_quality_rate, spatial=spatial, seed=seed,
    )
    parts = list(_iter_samples(params))
    adata = concat_samples(parts)
    adata.uns[K.TRUE_SAMPLES] = pd.DataFrame([p.uns["true_sample"] for p in parts])
    adata.uns["true_patients"] = pd.DataFrame([asdict(p) for p in cohort_patients(params)])
    adata.uns["simulation"] = asdict(params)
    logger.info(
        "simulated %d samples of %d patients: %d cells", len(parts), n_patients, adata.n_obs
    )
    return adata


def cohort_patients(params: SimulationParams) -> list[Patient]:
    """Return the patients of a simulation (outcomes and personal kinetics)."""
    if not 0 <= params.n_relapse <= params.n_patients:
        raise ValueError(
            f"n_relapse={params.n_relapse} must lie between 0 and n_patients={params.n_patients}."
        )
    plan_seed, _ = np.random.SeedSequence(params.seed).spawn(2)
    return plan_patients(params.n_patients, params.n_relapse, np.random.default_rng(plan_seed))


def simulate_samples(
    n_patients: int = 11,
    n_relapse: int = 2,
    *,
    cells_per_sample: int = 300,
    median_umis: float = 2500.0,
    niche_strength: float = 1.0,
    doublet_rate: float = 0.04,
    low_quality_rate: float = 0.04,
    spatial: bool = True,
    seed: int = 0,
) -> Iterator[AnnData]:
    """Simulate the cohort of :func:`simulate_cohort` one sample at a time.

    Memory stays bounded by the largest sample, so cohorts of a million cells stream to disk
    through :func:`write_cellranger`. The samples are the same as those of
    :func:`simulate_cohort` with the same arguments.

    Parameters
    ----------
    n_patients
        Number of patients.
    n_relapse
        How many of them relapse.
    cells_per_sample
        Mean number of cell barcodes per sample.
    median_umis
        Median UMIs of a lymphocyte.
    niche_strength
        Strength of the relapse niche (see :func:`simulate_cohort`).
    doublet_rate
        Fraction of barcodes that are doublets.
    low_quality_rate
        Fraction of barcodes that are damaged cells.
    spatial
        Give bone-marrow samples cell coordinates.
    seed
        Seed of the simulation.

    Yields
    ------
    One AnnData per sample, with its ground truth in ``.obs`` and ``.uns["true_sample"]``.
    """
    yield from _iter_samples(SimulationParams(
        n_patients, n_relapse, cells_per_sample=cells_per_sample, median_umis=median_umis,
        niche_strength=niche_strength, doublet_rate=doublet_rate,
        low_quality_rate=low_quality_rate, spatial=spatial, seed=seed,
    ))


def _iter_samples(params: SimulationParams) -> Iterator[AnnData]:
    # each patient's randomness comes from its own seed, so a sample does not depend on how
    # many patients precede it
    patients = cohort_patients(params)
    _, patients_seed = np.random.SeedSequence(params.seed).spawn(2)
    jobs = []
    for patient, seed in zip(patients, patients_seed.spawn(len(patients)), strict=True):
        repertoire_seed, visit_seed = seed.spawn(2)
        visits = plan_visits(patient, np.random.default_rng(visit_seed))
        jobs.extend(
            (patient, repertoire_seed, visit, sample_seed)
            for visit, sample_seed in zip(visits, visit_seed.spawn(len(visits)), strict=True)
        )
    current = None
    for patient, repertoire_seed, visit, sample_seed in progress(
        jobs, desc="simulating samples", total=len(jobs)
    ):
        if patient is not current:
            current = patient
            repertoire_rng = np.random.default_rng(repertoire_seed)
            b_cells = BRepertoire(patient.patient_id, repertoire_rng)
            t_cells = TRepertoire(patient.patient_id, repertoire_rng)
            patient_factor = np.exp(repertoire_rng.normal(0.0, 0.1, len(transcriptome().genes)))
        yield simulate_sample(
            visit, b_cells, t_cells, patient_factor, params, np.random.default_rng(sample_seed)
        )


def simulate_sample(
    visit: Visit, b_cells: BRepertoire, t_cells: TRepertoire, patient_factor: np.ndarray,
    params: SimulationParams, rng: np.random.Generator,
) -> AnnData:
    """Simulate one sample: cells, receptors, counts, doublets, damaged cells and coordinates."""
    tx = transcriptome()
    n_cells = max(1, round(params.cells_per_sample * rng.uniform(0.7, 1.3)))
    n_doublets = int(rng.binomial(n_cells, params.doublet_rate))
    cell_types = _draw_cell_types(visit, params, n_cells + n_doublets, rng)
    cells = pd.DataFrame({"cell_type": cell_types})
    cells["lineage"] = cells["cell_type"].map(LINEAGE_OF)
    cells["car"] = _draw_car(cells, visit, rng)
    cells["proliferating"] = (
        (cells["car"] & (visit.timepoint == "D14") & (rng.random(len(cells)) < 0.5))
        | (rng.random(len(cells)) < 0.01)
    )
    relapse_after_return = visit.patient.outcome == "relapse" and visit.day >= 60
    cells["niche"] = relapse_after_return & (
        cells["cell_type"].isin(NICHE_HELPER_TYPES)
        | (cells["cell_type"].isin(NICHE_SENDER_TYPES) & (visit.tissue == "bone_marrow"))
    )
    receptors = [_receptor(rng, visit, b_cells, t_cells, row) for row in cells.itertuples()]
    cells["isotype"] = [r.isotype if r else None for r in receptors]
    cells["light_constant"] = [_constant(r, 1) for r in receptors]
    cells["trb_constant"] = [
        _constant(r, 0) if r and r.isotype is None else None for r in receptors
    ]

    hosts = rng.choice(n_cells, size=n_doublets, replace=False)
    low_quality = np.zeros(n_cells + n_doublets, dtype=bool)
    singlets = np.setdiff1d(np.arange(n_cells), hosts)
    low_quality[singlets] = rng.random(len(singlets)) < params.low_quality_rate
    library = (
        params.median_umis * tx.library[pd.Index(CELL_TYPES).get_indexer(cell_types)]
        * np.exp(rng.normal(0.0, 0.35, len(cells))) * np.exp(rng.normal(0.0, 0.2))
    )
    library[low_quality] *= rng.uniform(0.1, 0.35, low_quality.sum())
    mito_factor = np.exp(rng.normal(0.0, 0.2, len(cells)))
    mito_factor[low_quality] = np.exp(rng.normal(np.log(10.0), 0.3, low_quality.sum()))
    sample_factor = np.exp(rng.normal(0.0, 0.25, len(tx.genes)))
    ambient_fraction = float(
        rng.uniform(0.03, 0.08) if visit.tissue == "bone_marrow" else rng.uniform(0.01, 0.05)
    )
    counts = sample_counts(
        tx, cell_levels(tx, cells, niche_strength=params.niche_strength), library=library,
        gene_factor=patient_factor * sample_factor, mito_factor=mito_factor,
        ambient_fraction=ambient_fraction, rng=rng,
    )
    partners = np.arange(n_cells, n_cells + n_doublets)
    counts = _merge_doublets(counts, hosts, partners, n_cells)

    barcodes = _barcodes(n_cells, rng)
    records = []
    for index in range(n_cells):
        cell_records = _contigs(
            rng, receptors[index], cells["lineage"].iat[index], barcodes[index], 1
        )
        records.append(cell_records)
    for host, partner in zip(hosts, partners, strict=True):
        records[host] = records[host] + _contigs(
            rng, receptors[partner], cells["lineage"].iat[partner], barcodes[host],
            len(records[host]) + 1
        )
    is_doublet = np.zeros(n_cells, dtype=bool)
    is_doublet[hosts] = True
    host_cells = cells.iloc[:n_cells]
    obs = _truth(host_cells, receptors[:n_cells], is_doublet, low_quality[:n_cells])
    obs.index = pd.Index([f"{visit.sample_id}_{b}" for b in barcodes])
    probability = niche_probability(visit, params.niche_strength)
    adata = AnnData(
        obs=obs.assign(**{K.BARCODE: barcodes}),
        var=pd.DataFrame(
            {"gene_ids": [f"SIMG{i:05d}" for i in range(len(tx.genes))],
             "feature_types": "Gene Expression"},
            index=tx.genes,
        ),
        layers={K.COUNTS: counts},
    )
    adata.obsm[K.AIRR] = ak.Array(records)
    adata.obs[K.TRUE_NICHE] = False
    if params.spatial and visit.tissue == "bone_marrow":
        xy, in_niche = place_cells(host_cells["cell_type"].to_numpy(), probability, rng)
        adata.obsm[K.SPATIAL] = xy
        adata.obs[K.TRUE_NICHE] = in_niche
    metadata = {
        K.SAMPLE: visit.sample_id, K.PATIENT: visit.patient.patient_id,
        K.TIMEPOINT: visit.timepoint, K.DAY: visit.day, K.TISSUE: visit.tissue,
        K.OUTCOME: visit.patient.outcome,
    }
    for key, value in metadata.items():
        adata.obs[key] = value
    order = np.argsort(barcodes)
    adata = adata[order].copy()
    adata.uns["true_sample"] = {
        **metadata, "n_cells": n_cells, "n_doublets": n_doublets,
        "n_low_quality": int(low_quality[:n_cells].sum()), "ambient_fraction": ambient_fraction,
        "car_fraction_of_T": car_fraction(visit), "niche_probability": probability,
    }
    return adata


def _draw_cell_types(
    visit: Visit, params: SimulationParams, n: int, rng: np.random.Generator
) -> np.ndarray:
    fractions = composition(visit, params.niche_strength, rng)
    expected = np.array([fractions[t] for t in CELL_TYPES])
    expected /= expected.sum()
    present = expected > 0
    varied = np.zeros_like(expected)
    varied[present] = rng.dirichlet(expected[present] * COMPOSITION_CONCENTRATION)
    counts = rng.multinomial(n, varied)
    cell_types = np.repeat(np.array(CELL_TYPES, dtype=object), counts)
    rng.shuffle(cell_types)
    return cell_types


def _draw_car(cells: pd.DataFrame, visit: Visit, rng: np.random.Generator) -> np.ndarray:
    car = np.zeros(len(cells), dtype=bool)
    if not visit.post_infusion:
        return car
    n_t = int((cells["lineage"] == "T").sum())
    eligible = np.flatnonzero(
        cells["cell_type"].isin(["T_CD8_effector", "T_CD4_memory"]).to_numpy()
    )
    n_car = min(int(rng.binomial(n_t, car_fraction(visit))), len(eligible))
    car[rng.choice(eligible, size=n_car, replace=False)] = True
    return car


def _receptor(
    rng, visit: Visit, b_cells: BRepertoire, t_cells: TRepertoire, row
) -> CellReceptor | None:
    if row.lineage in ("B", "plasma"):
        return b_cells.receptor(
            rng, row.cell_type, post_infusion=visit.post_infusion, outcome=visit.patient.outcome
        )
    if row.lineage == "T":
        return t_cells.receptor(rng, row.cell_type, car=bool(row.car))
    return None


def _constant(receptor: CellReceptor | None, index: int) -> str | None:
    if receptor is None or len(receptor.chains) <= index:
        return None
    rearrangement = receptor.chains[index].rearrangement
    return constant_gene(rearrangement.locus, rearrangement.j.name)


def _contigs(
    rng, receptor: CellReceptor | None, lineage: str, barcode: str, start: int
) -> list[dict]:
    if receptor is None:
        return []
    return contig_records(rng, receptor, lineage, barcode, start)


def _merge_doublets(counts, hosts: np.ndarray, partners: np.ndarray, n_cells: int):
    import scipy.sparse as sp

    merge = sp.csr_matrix(
        (np.ones(n_cells + len(partners), dtype=np.float32),
         (np.concatenate([np.arange(n_cells), hosts]),
          np.concatenate([np.arange(n_cells), partners]))),
        shape=(n_cells, n_cells + len(partners)),
    )
    return (merge @ counts).tocsr()


def _barcodes(n: int, rng: np.random.Generator) -> np.ndarray:
    barcodes: dict[str, None] = {}
    while len(barcodes) < n:
        for bases in rng.choice(list("ACGT"), size=(n - len(barcodes), 16)):
            barcodes["".join(bases) + "-1"] = None
    return np.array(list(barcodes))


def _truth(
    cells: pd.DataFrame, receptors: list, is_doublet: np.ndarray, low_quality: np.ndarray
) -> pd.DataFrame:
    return pd.DataFrame({
        K.TRUE_LINEAGE: cells["lineage"].to_numpy(),
        K.TRUE_CELL_TYPE: cells["cell_type"].to_numpy(),
        K.TRUE_BCR_STATE: cells["cell_type"].map(BCR_STATE_OF).to_numpy(),
        K.TRUE_CLONE: [r.clone_id if r else None for r in receptors],
        K.TRUE_DOUBLET: is_doublet,
        K.TRUE_LOW_QUALITY: low_quality,
        K.TRUE_CAR: cells["car"].to_numpy(),
        K.TRUE_ISOTYPE: cells["isotype"].to_numpy(),
        K.TRUE_SHM_RATE: [r.shm_rate if r and r.isotype else np.nan for r in receptors],
        K.TRUE_PREEXISTING: [bool(r and r.isotype and r.preexisting) for r in receptors],
    })
