"""Simulated gene expression: programme levels per cell type and negative-binomial counts."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from importlib import resources

import numpy as np
import pandas as pd
import scipy.sparse as sp
import yaml

from .. import _keys as K
from ._design import CELL_TYPES, LINEAGE_OF

# a fixed seed for the "biology" (baselines, background programmes, dispersions): every simulated
# cohort shares it, so cohorts with different seeds differ only in sampling, as real cohorts do
BIOLOGY_SEED = 20260114
REFERENCE_UMIS = 2000.0
LOW_FACTOR = 0.1
# immunoglobulin constant genes in B and plasma cells, in UMIs per 2,000 (plasma cells devote
# a third or more of their transcripts to immunoglobulin)
IG_LEVEL = {"B": {"heavy": 30.0, "light": 40.0}, "plasma": {"heavy": 600.0, "light": 900.0}}
TRBC_LEVEL = 10.0
NICHE_HELPER_TYPES = ("Tfh", "Tph")
NICHE_SENDER_TYPES = ("monocyte", "monocyte_nonclassical", "eosinophil", "megakaryocyte", "stroma")
UNSWITCHED_TYPES = ("B_transitional", "B_naive", "B_memory_unswitched")
HOUSEKEEPING_LEVELS = {"MALAT1": 60, "TMSB4X": 40, "B2M": 40, "EEF1A1": 30, "ACTB": 25, "TPT1": 15,
                       "FTL": 10, "FTH1": 10, "PTMA": 8, "TMSB10": 12, "MYL6": 8, "PFN1": 6}


@dataclass(frozen=True)
class Transcriptome:
    """Genes, their baseline levels, each cell type's programme and the overlaid states."""

    genes: pd.Index
    categories: np.ndarray
    levels: np.ndarray  # cell types x genes, expected UMIs per 2,000
    library: np.ndarray  # relative library size per cell type
    states: dict[str, dict[str, dict[str, float]]]
    theta: np.ndarray  # negative-binomial size per gene
    is_mito: np.ndarray

    def index(self, genes: list[str] | tuple[str, ...]) -> np.ndarray:
        """Column indices of ``genes``."""
        return self.genes.get_indexer(list(genes))


@functools.cache
def transcriptome() -> Transcriptome:
    """Return the simulator's transcriptome, built once from the package's data files."""
    data = resources.files("repertoire.datasets") / "data"
    table = pd.read_csv(data / "genes.tsv", sep="\t", comment="#")
    programmes = yaml.safe_load((data / "programmes.yaml").read_text())
    genes = pd.Index([*table["gene"], K.CAR_FEATURE])
    categories = np.array([*table["category"], "transgene"])
    rng = np.random.default_rng(BIOLOGY_SEED)

    baseline = np.empty(len(genes))
    draws = {
        "ribosomal": (8.0, 0.4), "mitochondrial": (5.0, 0.5), "housekeeping": (3.0, 0.6),
        "background": (0.15, 1.3), "marker": (0.03, 0.8), "ligand_receptor": (0.03, 0.8),
        "transgene": (1e-9, 0.0),
    }
    for category, (median, sd) in draws.items():
        mask = categories == category
        baseline[mask] = median * np.exp(rng.normal(0.0, sd, mask.sum()))
    for gene, level in HOUSEKEEPING_LEVELS.items():
        baseline[genes.get_loc(gene)] = level
    immune_receptor = genes.str.match(r"^(IGH[MDGAE]|IGKC|IGLC|TRBC|TRAC|TRDC|TRGC)")
    baseline[immune_receptor] = 0.005

    background = np.flatnonzero(categories == "background")
    lineage_noise = {
        lineage: _background_programme(rng, background, len(genes), 80, 0.8)
        for lineage in dict.fromkeys(LINEAGE_OF.values())
    }
    levels = np.empty((len(CELL_TYPES), len(genes)))
    library = np.empty(len(CELL_TYPES))
    for row, cell_type in enumerate(CELL_TYPES):
        spec = programmes["cell_types"][cell_type]
        lineage_spec = programmes["lineages"][spec["lineage"]] or {}
        level = baseline * lineage_noise[spec["lineage"]]
        level *= _background_programme(rng, background, len(genes), 40, 0.6)
        for source in (lineage_spec, spec):
            for gene, value in (source.get("expr") or {}).items():
                level[genes.get_loc(gene)] = value
        for source in (lineage_spec, spec):
            for gene in source.get("low") or []:
                level[genes.get_loc(gene)] *= LOW_FACTOR
        levels[row] = level
        library[row] = spec.get("library", 1.0)
    theta = np.exp(rng.normal(np.log(3.0), 0.5, len(genes)))
    return Transcriptome(
        genes=genes, categories=categories, levels=levels, library=library,
        states=programmes["states"], theta=theta, is_mito=genes.str.startswith("MT-"),
    )


def _background_programme(rng: np.random.Generator, background: np.ndarray, n_genes: int,
                           size: int, sd: float) -> np.ndarray:
    factor = np.ones(n_genes)
    chosen = rng.choice(background, size=size, replace=False)
    factor[chosen] = np.exp(rng.normal(0.0, sd, size))
    return factor


def cell_levels(tx: Transcriptome, cells: pd.DataFrame, *, niche_strength: float) -> np.ndarray:
    """Return expected UMIs per 2,000 of every gene in every cell, before batch effects.

    ``cells`` holds per cell: ``cell_type``, ``car``, ``proliferating``, ``niche``
    (niche-state genes switched on), ``isotype``, ``light_constant``, ``trb_constant``.
    """
    type_index = pd.Index(CELL_TYPES).get_indexer(cells["cell_type"])
    levels = tx.levels[type_index].copy()
    for state, column in (("car_t", "car"), ("proliferating", "proliferating")):
        rows = np.flatnonzero(cells[column].to_numpy())
        for gene, value in tx.states[state]["expr"].items():
            column_index = tx.genes.get_loc(gene)
            levels[rows, column_index] = np.maximum(levels[rows, column_index], value)
    niche = cells["niche"].to_numpy()
    for state, types in (
        ("niche_helper", NICHE_HELPER_TYPES), ("niche_sender", NICHE_SENDER_TYPES)
    ):
        rows = np.flatnonzero(niche & cells["cell_type"].isin(types).to_numpy())
        for gene, log2fc in tx.states[state]["log2fc"].items():
            levels[rows, tx.genes.get_loc(gene)] *= 2.0 ** (log2fc * niche_strength)
    lineage = cells["cell_type"].map(LINEAGE_OF).to_numpy()
    for kind in ("B", "plasma"):
        ig = IG_LEVEL[kind]
        rows = np.flatnonzero(lineage == kind)
        switched = rows[~cells["cell_type"].iloc[rows].isin(UNSWITCHED_TYPES).to_numpy()]
        _set_levels(levels, tx, switched, cells["isotype"].iloc[switched], ig["heavy"])
        _set_levels(levels, tx, rows, cells["light_constant"].iloc[rows], ig["light"])
    rows = np.flatnonzero(lineage == "T")
    _set_levels(levels, tx, rows, cells["trb_constant"].iloc[rows], TRBC_LEVEL)
    return levels


def _set_levels(
    levels: np.ndarray, tx: Transcriptome, rows: np.ndarray, genes: pd.Series, value: float
) -> None:
    columns = tx.genes.get_indexer(genes.fillna("").to_numpy())
    keep = columns >= 0
    levels[rows[keep], columns[keep]] = value


def sample_counts(
    tx: Transcriptome, levels: np.ndarray, *, library: np.ndarray, gene_factor: np.ndarray,
    mito_factor: np.ndarray, ambient_fraction: float, rng: np.random.Generator, chunk: int = 2048,
) -> sp.csr_matrix:
    """Negative-binomial UMI counts of cells with given levels, library sizes and batch effects.

    Each cell's profile is its levels times the per-gene batch factor (mitochondrial genes
    further scaled per cell: damaged cells), renormalised to its library size; a fraction of
    every cell's UMIs comes from the sample's ambient profile (the library-weighted mean profile).
    """
    profiles = levels * gene_factor
    profiles[:, tx.is_mito] *= mito_factor[:, None]
    profiles /= profiles.sum(axis=1, keepdims=True)
    ambient = (profiles * library[:, None]).sum(axis=0) / library.sum()
    blocks = []
    for start in range(0, len(profiles), chunk):
        stop = start + chunk
        mean = (1.0 - ambient_fraction) * profiles[start:stop] + ambient_fraction * ambient
        mean *= library[start:stop, None]
        rate = rng.gamma(tx.theta, mean / tx.theta)
        blocks.append(sp.csr_matrix(rng.poisson(rate).astype(np.float32)))
    return (
        sp.vstack(blocks, format="csr") if blocks
        else sp.csr_matrix((0, len(tx.genes)), dtype=np.float32)
    )
