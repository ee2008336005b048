"""Cohort design of the simulator: patients, visits, and what each sample should contain.

The kinetics follow the CD19 CAR-T studies in autoimmunity: B-cell aplasia for the first
weeks, B cells returning from about day 50-100 as transitional then naive cells (Mackensen et
al., Nat Med 2022; Wilhelm et al., JCI Insight 2024), CAR-T cells peaking around day 7-14,
and in relapsing patients the return of memory and double-negative B cells from pre-treatment
clones with T-follicular/peripheral-helper expansion and persistent long-lived plasma cells in
the marrow (Li et al., N Engl J Med 2026; Bhoj et al., Blood 2016).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import _keys as K

LINEAGE_TYPES = {
    "B": ("B_transitional", "B_naive", "B_memory_unswitched", "B_memory_switched", "B_DN"),
    "plasma": ("plasmablast", "plasma_LLPC"),
    "T": ("T_CD4_naive", "T_CD4_memory", "Tfh", "Tph", "Treg", "T_CD8_naive", "T_CD8_effector"),
    "NK": ("NK",),
    "myeloid": ("monocyte", "monocyte_nonclassical", "DC", "pDC", "eosinophil"),
    "other": ("megakaryocyte", "stroma", "erythroid"),
}
CELL_TYPES = tuple(t for types in LINEAGE_TYPES.values() for t in types)
LINEAGE_OF = {t: lineage for lineage, types in LINEAGE_TYPES.items() for t in types}

BCR_STATE_OF = K.BCR_STATE_OF_CELL_TYPE

# scheduled visits: (timepoint, nominal day, jitter in days, tissues)
SCHEDULE = (
    ("baseline", -10, 4, ("blood", "bone_marrow")),
    ("D14", 14, 0, ("blood",)),
    ("D28", 28, 0, ("blood",)),
    ("M3", 90, 7, ("blood",)),
    ("M6", 180, 10, ("blood", "bone_marrow")),
    ("M12", 365, 14, ("blood",)),
)
RELAPSE_TIMEPOINT = "relapse"
TISSUE_CODE = {"blood": "PB", "bone_marrow": "BM"}

# CAR-T cells as a fraction of T cells, by timepoint (Mackensen et al., Nat Med 2022)
CAR_FRACTION = {"baseline": 0.0, "D14": 0.40, "D28": 0.15, "M3": 0.04, "M6": 0.015,
                "M12": 0.008, RELAPSE_TIMEPOINT: 0.005}


@dataclass(frozen=True)
class Patient:
    """A simulated patient: outcome and the personal timing of reconstitution and relapse."""

    patient_id: str
    outcome: str
    b_return_day: float
    relapse_day: int | None
    car_expansion: float


@dataclass(frozen=True)
class Visit:
    """One sample: a patient's tissue at a timepoint."""

    patient: Patient
    timepoint: str
    day: int
    tissue: str

    @property
    def sample_id(self) -> str:
        """``{patient}_{timepoint}_{PB|BM}``."""
        return f"{self.patient.patient_id}_{self.timepoint}_{TISSUE_CODE[self.tissue]}"

    @property
    def post_infusion(self) -> bool:
        """Whether the sample was taken after CAR-T infusion."""
        return self.day > 0


def plan_patients(n_patients: int, n_relapse: int, rng: np.random.Generator) -> list[Patient]:
    """Patients ``P01..``; which ones relapse is drawn at random."""
    relapsing = set(rng.choice(n_patients, size=n_relapse, replace=False).tolist())
    patients = []
    for index in range(n_patients):
        relapse = index in relapsing
        patients.append(Patient(
            patient_id=f"P{index + 1:02d}",
            outcome="relapse" if relapse else "remission",
            b_return_day=float(rng.uniform(50, 100)),
            relapse_day=int(rng.integers(240, 331)) if relapse else None,
            car_expansion=float(np.exp(rng.normal(0, 0.35))),
        ))
    return patients


def plan_visits(patient: Patient, rng: np.random.Generator) -> list[Visit]:
    """Every sample of a patient in time order (relapse visit for relapsing patients)."""
    visits = []
    for timepoint, day, jitter, tissues in SCHEDULE:
        actual = day + (int(rng.integers(-jitter, jitter + 1)) if jitter else 0)
        visits.extend(Visit(patient, timepoint, actual, tissue) for tissue in tissues)
    if patient.relapse_day is not None:
        visits.append(Visit(patient, RELAPSE_TIMEPOINT, patient.relapse_day, "blood"))
    return sorted(visits, key=lambda v: (v.day, v.tissue))


def _relapse_weight(visit: Visit) -> float:
    """How far relapse biology has developed at this visit (0 in remission and before infusion)."""
    if visit.patient.outcome != "relapse" or not visit.post_infusion:
        return 0.0
    if visit.timepoint == RELAPSE_TIMEPOINT:
        return 1.0
    return float(np.clip((visit.day - visit.patient.b_return_day) / 150.0 + 0.4, 0.0, 1.0))


def b_fraction(visit: Visit, rng: np.random.Generator) -> float:
    """B cells as a fraction of all cells."""
    tissue_scale = 0.6 if visit.tissue == "bone_marrow" else 1.0
    if not visit.post_infusion:
        return 0.10 * tissue_scale
    since_return = visit.day - visit.patient.b_return_day
    if since_return <= 0:
        # aplasia: no B cell, or a rare survivor near day 28
        return 0.002 if visit.timepoint == "D28" and rng.random() < 0.3 else 0.0
    return 0.13 * (1.0 - np.exp(-since_return / 70.0)) * tissue_scale


def b_subsets(visit: Visit) -> np.ndarray:
    """Fractions of transitional, naive, unswitched memory, switched memory and DN B cells."""
    relapse = visit.patient.outcome == "relapse"
    if not visit.post_infusion:
        return np.array(
            [0.03, 0.46, 0.12, 0.23, 0.16] if relapse else [0.04, 0.50, 0.12, 0.22, 0.12]
        )
    since_return = max(visit.day - visit.patient.b_return_day, 0.0)
    if since_return == 0:
        return np.array([0.3, 0.4, 0.1, 0.1, 0.1])
    transitional = 0.6 * np.exp(-since_return / 80.0) + 0.05
    weight = _relapse_weight(visit)
    remission_memory = 0.02 + 0.10 * (1.0 - np.exp(-since_return / 200.0))
    relapse_memory = 0.25 + 0.35 * (1.0 - np.exp(-since_return / 100.0))
    memory = (1 - weight) * remission_memory + weight * relapse_memory
    split = (1 - weight) * np.array([0.45, 0.45, 0.10]) + weight * np.array([0.25, 0.45, 0.30])
    transitional = min(transitional, 1.0 - memory - 0.05)
    naive = 1.0 - memory - transitional
    return np.array([transitional, naive, *(memory * split)])


def plasma_fraction(visit: Visit, niche_strength: float) -> tuple[float, np.ndarray]:
    """Plasma cells as a fraction of all cells, and the plasmablast/LLPC split."""
    marrow = visit.tissue == "bone_marrow"
    split = np.array([0.15, 0.85]) if marrow else np.array([0.85, 0.15])
    if not visit.post_infusion:
        return (0.02 if marrow else 0.006), split
    if marrow:
        # long-lived plasma cells wane after CAR-T; in relapse they persist with their niche
        persistence = niche_strength * (visit.patient.outcome == "relapse")
        return 0.006 + 0.014 * min(persistence, 1.5), split
    if visit.day < visit.patient.b_return_day:
        return 0.0005, split
    return 0.002 + 0.010 * _relapse_weight(visit), split


def t_subsets(visit: Visit, niche_strength: float) -> np.ndarray:
    """Fractions of CD4 naive, CD4 memory, Tfh, Tph, Treg, CD8 naive, CD8 effector among T cells."""
    base = {
        "baseline": [0.22, 0.25, 0.03, 0.02, 0.06, 0.15, 0.27],
        "D14": [0.06, 0.30, 0.02, 0.02, 0.06, 0.04, 0.50],
        "D28": [0.08, 0.30, 0.02, 0.02, 0.07, 0.06, 0.45],
    }.get(visit.timepoint, [0.15, 0.28, 0.03, 0.02, 0.07, 0.10, 0.35])
    fractions = np.array(base, dtype=float)
    if visit.patient.outcome == "relapse" and visit.day >= 60:
        fractions[2] += 0.03 * niche_strength
        fractions[3] += 0.05 * niche_strength
    return fractions / fractions.sum()


def composition(visit: Visit, niche_strength: float, rng: np.random.Generator) -> dict[str, float]:
    """Return expected fraction of every cell type in a sample (before patient-level noise)."""
    marrow = visit.tissue == "bone_marrow"
    b_total = b_fraction(visit, rng)
    plasma_total, plasma_split = plasma_fraction(visit, niche_strength)
    if marrow:
        lineage = {"T": 0.22, "NK": 0.04, "myeloid": 0.38, "other": 0.20}
        myeloid = [0.50, 0.04, 0.05, 0.02, 0.30]
        other = [0.07, 0.05, 0.88]
    else:
        t_share = {"D14": 0.55, "D28": 0.50}.get(visit.timepoint, 0.52)
        lineage = {"T": t_share, "NK": 0.11, "myeloid": 0.26, "other": 0.0}
        myeloid = [0.78, 0.10, 0.07, 0.03, 0.02]
        other = [1.0, 0.0, 0.0]
    scale = (1.0 - b_total - plasma_total) / sum(lineage.values())
    fractions: dict[str, float] = {}
    fractions.update(zip(LINEAGE_TYPES["B"], b_total * b_subsets(visit), strict=True))
    fractions.update(zip(LINEAGE_TYPES["plasma"], plasma_total * plasma_split, strict=True))
    fractions.update(zip(
        LINEAGE_TYPES["T"], lineage["T"] * scale * t_subsets(visit, niche_strength), strict=True
    ))
    fractions["NK"] = lineage["NK"] * scale
    my = np.array(myeloid) / sum(myeloid)
    fractions.update(zip(LINEAGE_TYPES["myeloid"], lineage["myeloid"] * scale * my, strict=True))
    ot = np.array(other) / sum(other)
    fractions.update(zip(LINEAGE_TYPES["other"], lineage["other"] * scale * ot, strict=True))
    return fractions


def car_fraction(visit: Visit) -> float:
    """CAR-T cells as a fraction of T cells."""
    fraction = CAR_FRACTION.get(visit.timepoint, 0.0) * visit.patient.car_expansion
    if visit.tissue == "bone_marrow":
        fraction *= 0.6
    return float(min(fraction, 0.8))


def niche_probability(visit: Visit, niche_strength: float) -> float:
    """Chance that a niche-forming marrow cell sits in a spatial niche."""
    if visit.tissue != "bone_marrow":
        return 0.0
    if not visit.post_infusion:
        return 0.3
    relapse = visit.patient.outcome == "relapse"
    return float(min(0.05 + 0.5 * niche_strength * relapse, 0.95))
