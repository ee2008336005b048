"""Simulated cell positions in a bone-marrow section, with plasma-cell survival niches."""

from __future__ import annotations

import numpy as np

# cell types that gather in a plasma-cell niche: the plasma cell, its T/B partners and the
# APRIL/BAFF/IL-6/CXCL12 senders
NICHE_TYPES = (
    "plasma_LLPC", "plasmablast", "Tph", "Tfh", "B_memory_switched", "B_memory_unswitched", "B_DN",
    "eosinophil", "megakaryocyte", "stroma", "monocyte",
)
CELL_AREA_UM2 = 400.0  # area per cell in the section (cells about 20 um apart)
NICHE_RADIUS_UM = 20.0
CELLS_PER_NICHE = 150


def place_cells(
    cell_types: np.ndarray, niche_probability: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Coordinates (um) of every cell and whether it sits in a niche.

    Cells fill a square section uniformly; each cell of a niche-forming type joins one of the
    niches (a few per section) with ``niche_probability`` and then lies within about 20 um of
    its centre.
    """
    n = len(cell_types)
    side = float(np.sqrt(max(n, 1) * CELL_AREA_UM2))
    xy = rng.uniform(0.0, side, size=(n, 2))
    in_niche = np.isin(cell_types, NICHE_TYPES) & (rng.random(n) < niche_probability)
    n_niches = max(1, round(n / CELLS_PER_NICHE))
    margin = min(3 * NICHE_RADIUS_UM, side / 4)
    centres = rng.uniform(margin, side - margin, size=(n_niches, 2))
    members = np.flatnonzero(in_niche)
    which = rng.integers(0, n_niches, size=len(members))
    xy[members] = centres[which] + rng.normal(0.0, NICHE_RADIUS_UM / 2, size=(len(members), 2))
    return np.clip(xy, 0.0, side), in_niche
