"""Per-patient B- and T-cell clone pools and the receptor chains each simulated cell carries."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._rearrange import Chain, Rearrangement, airr_record, mutate, rearrange
from ._vdj_genes import IMGT_V_LENGTH, SWITCHED_ISOTYPES

SWITCHED_WEIGHTS = np.array([0.45, 0.15, 0.07, 0.03, 0.22, 0.07, 0.01])
AUTOREACTIVE_V_BOOST = {"IGHV4-34": 8.0, "IGHV3-30": 2.0, "IGHV3-23": 1.5}

MEMORY_TYPES = ("B_memory_unswitched", "B_memory_switched", "B_DN", "plasmablast")
NAIVE_TYPES = ("B_transitional", "B_naive")
B_TYPES = (*NAIVE_TYPES, *MEMORY_TYPES, "plasma_LLPC")
CD4_CLONAL_TYPES = ("T_CD4_memory", "Tfh", "Tph", "Treg")
NAIVE_T_TYPES = ("T_CD4_naive", "T_CD8_naive")
T_TYPES = (*NAIVE_T_TYPES, *CD4_CLONAL_TYPES, "T_CD8_effector")

# chance that a memory-type cell's clone comes from the autoreactive pool, by cell type
AUTOREACTIVE_SHARE = {
    "B_memory_unswitched": 0.1, "B_memory_switched": 0.2, "B_DN": 0.5, "plasmablast": 0.5,
}
# chance that a post-infusion memory-type cell belongs to a clone that existed before treatment
RETURN_PROBABILITY = {"relapse": 0.8, "remission": 0.03}


@dataclass
class Clone:
    """A clone: its ancestor's chains, the mutations all members share, its switched isotype."""

    clone_id: str
    chains: list[Rearrangement]
    shared_mutations: list[dict[int, str]]
    member_rate: float
    switched_isotype: str
    preexisting: bool


@dataclass
class CellReceptor:
    """The receptor of one simulated cell, with its ground truth."""

    clone_id: str
    chains: list[Chain]
    constant: list[str | None]
    isotype: str | None = None
    shm_rate: float = np.nan
    preexisting: bool = False


def _zipf_weights(n: int, exponent: float) -> np.ndarray:
    weights = 1.0 / np.arange(1, n + 1) ** exponent
    return weights / weights.sum()


def _gamma_rate(rng: np.random.Generator, mean: float, low: float, high: float) -> float:
    return float(np.clip(rng.gamma(4.0, mean / 4.0), low, high))


class BRepertoire:
    """The B-cell clones of one patient before and after CAR-T therapy.

    Pools: pre-treatment memory clones (Zipf-sized), a few large autoreactive clones (enriched for
    IGHV4-34, the classic anti-erythrocyte V gene), long-lived plasma-cell clones (a quarter derived
    from memory or autoreactive clones, the rest independent, all highly mutated) and the memory
    clones newly formed after reconstitution (low mutation). Naive and transitional cells each get
    a fresh unmutated clone.
    """

    def __init__(self, patient_id: str, rng: np.random.Generator, *, n_memory: int = 400,
                 n_autoreactive: int = 8, n_llpc: int = 60, n_post_memory: int = 200):
        self.patient_id = patient_id
        self._next = 0
        self.memory = [
            self._clone(rng, rate=(0.045, 0.015, 0.12), preexisting=True) for _ in range(n_memory)
        ]
        self.memory_weights = _zipf_weights(n_memory, 1.1)
        self.autoreactive = [
            self._clone(rng, rate=(0.06, 0.03, 0.12), preexisting=True,
                        v_boost=AUTOREACTIVE_V_BOOST,
                        isotype_weights=np.array([0.8, 0.02, 0.1, 0.02, 0.04, 0.01, 0.01]))
            for _ in range(n_autoreactive)
        ]
        self.autoreactive_weights = _zipf_weights(n_autoreactive, 0.7)
        self.llpc = []
        for _ in range(n_llpc):
            if rng.random() < 0.25:
                parent = self._draw_preexisting(rng, "plasmablast")
                self.llpc.append(Clone(
                    parent.clone_id, parent.chains,
                    [mutate(rng, c, 0.02, inherited=m)
                     for c, m in zip(parent.chains, parent.shared_mutations, strict=True)],
                    0.006, parent.switched_isotype, True,
                ))
            else:
                self.llpc.append(self._clone(rng, rate=(0.075, 0.04, 0.14), preexisting=True))
        self.llpc_weights = _zipf_weights(n_llpc, 1.0)
        self.post_memory = [
            self._clone(rng, rate=(0.02, 0.01, 0.05), preexisting=False)
            for _ in range(n_post_memory)
        ]
        self.post_memory_weights = _zipf_weights(n_post_memory, 1.0)

    def _new_id(self) -> str:
        self._next += 1
        return f"{self.patient_id}_B{self._next:06d}"

    def _clone(self, rng: np.random.Generator, *, rate: tuple[float, float, float] | None,
               preexisting: bool, v_boost: dict[str, float] | None = None,
               isotype_weights: np.ndarray = SWITCHED_WEIGHTS) -> Clone:
        heavy = rearrange(rng, "IGH", v_boost=v_boost)
        light = rearrange(rng, "IGK" if rng.random() < 0.6 else "IGL")
        clone_rate = _gamma_rate(rng, *rate) if rate else 0.0
        shared = (
            [mutate(rng, heavy, clone_rate), mutate(rng, light, clone_rate * 0.7)] if rate
            else [{}, {}]
        )
        isotype = SWITCHED_ISOTYPES[
            rng.choice(len(SWITCHED_ISOTYPES), p=isotype_weights / isotype_weights.sum())
        ]
        return Clone(
            self._new_id(), [heavy, light], shared, 0.005 if rate else 0.0, isotype, preexisting
        )

    def _draw_preexisting(self, rng: np.random.Generator, cell_type: str) -> Clone:
        if rng.random() < AUTOREACTIVE_SHARE[cell_type]:
            return self.autoreactive[
                rng.choice(len(self.autoreactive), p=self.autoreactive_weights)
            ]
        return self.memory[rng.choice(len(self.memory), p=self.memory_weights)]

    def draw(self, rng: np.random.Generator, cell_type: str, *, post_infusion: bool,
             outcome: str) -> Clone:
        """Return the clone of a new cell of ``cell_type``."""
        if cell_type in NAIVE_TYPES:
            return self._clone(rng, rate=None, preexisting=not post_infusion)
        if cell_type == "plasma_LLPC":
            return self.llpc[rng.choice(len(self.llpc), p=self.llpc_weights)]
        if not post_infusion or rng.random() < RETURN_PROBABILITY.get(outcome, 0.03):
            return self._draw_preexisting(rng, cell_type)
        return self.post_memory[rng.choice(len(self.post_memory), p=self.post_memory_weights)]

    def receptor(self, rng: np.random.Generator, cell_type: str, *, post_infusion: bool,
                 outcome: str) -> CellReceptor:
        """Clone, mutated chains, isotype and SHM of a new B-lineage cell."""
        clone = self.draw(rng, cell_type, post_infusion=post_infusion, outcome=outcome)
        chains = [
            Chain(
                r, mutate(rng, r, clone.member_rate, inherited=m) if clone.member_rate else dict(m)
            )
            for r, m in zip(clone.chains, clone.shared_mutations, strict=True)
        ]
        isotype = _isotype(rng, cell_type, clone)
        return CellReceptor(
            clone_id=clone.clone_id,
            chains=chains,
            constant=[isotype, None],  # the light chain's constant gene follows its J gene
            isotype=isotype,
            shm_rate=chains[0].v_mutations() / IMGT_V_LENGTH,
            preexisting=clone.preexisting,
        )


def _isotype(rng: np.random.Generator, cell_type: str, clone: Clone) -> str:
    if cell_type == "B_transitional":
        return "IGHM"
    if cell_type == "B_naive":
        return "IGHM" if rng.random() < 0.8 else "IGHD"
    if cell_type == "B_memory_unswitched":
        return "IGHM" if rng.random() < 0.92 else "IGHD"
    if cell_type == "B_memory_switched":
        return clone.switched_isotype
    switched_share = 0.75 if cell_type == "B_DN" else 0.85
    return clone.switched_isotype if rng.random() < switched_share else "IGHM"


@dataclass
class TClone:
    """A T-cell clone: TRB, TRA and sometimes a second productive TRA."""

    clone_id: str
    chains: list[Rearrangement]


class TRepertoire:
    """The T-cell clones of one patient and of the CAR-T product made from them.

    CD4 and CD8 memory clones are Zipf-sized pools; naive T cells each carry a fresh clone; the
    CAR-T product is a sample of the patient's clones, so CAR-T cells share clonotypes.
    """

    def __init__(self, patient_id: str, rng: np.random.Generator, *, n_memory: int = 600,
                 n_product: int = 150):
        self.patient_id = patient_id
        self._next = 0
        self.cd4 = [self._clone(rng) for _ in range(n_memory)]
        self.cd8 = [self._clone(rng) for _ in range(n_memory)]
        self.weights = _zipf_weights(n_memory, 1.0)
        pick = rng.choice(n_memory, size=n_product, replace=False, p=self.weights)
        self.product = {"cd4": [self.cd4[i] for i in pick], "cd8": [self.cd8[i] for i in pick]}
        self.product_weights = _zipf_weights(n_product, 0.8)

    def _clone(self, rng: np.random.Generator) -> TClone:
        self._next += 1
        chains = [rearrange(rng, "TRB"), rearrange(rng, "TRA")]
        if rng.random() < 0.08:
            chains.append(rearrange(rng, "TRA"))
        return TClone(f"{self.patient_id}_T{self._next:06d}", chains)

    def receptor(self, rng: np.random.Generator, cell_type: str, *, car: bool) -> CellReceptor:
        """Clone and chains of a new T cell."""
        kind = "cd8" if cell_type in ("T_CD8_naive", "T_CD8_effector") else "cd4"
        if car:
            pool = self.product[kind]
            clone = pool[rng.choice(len(pool), p=self.product_weights)]
        elif cell_type in NAIVE_T_TYPES:
            clone = self._clone(rng)
        else:
            pool = self.cd8 if kind == "cd8" else self.cd4
            clone = pool[rng.choice(len(pool), p=self.weights)]
        chains = [Chain(r) for r in clone.chains]
        return CellReceptor(clone.clone_id, chains, [None] * len(chains))


# detection of a receptor in 5' V(D)J libraries and UMIs per contig, by lineage
DETECTION = {"B": 0.85, "plasma": 0.95, "T": 0.8}
UMI_MEAN = {"B": (5.0, 9.0), "plasma": (60.0, 100.0), "T": (5.0, 3.0)}
CHAIN_KEPT = {"B": (0.93, 0.95), "plasma": (0.97, 0.98), "T": (0.92, 0.88)}


def contig_records(
    rng: np.random.Generator, receptor: CellReceptor, lineage: str, barcode: str, start: int = 1,
) -> list[dict[str, object]]:
    """Return the AIRR records the V(D)J library recovers for one cell (possibly none)."""
    if rng.random() > DETECTION[lineage]:
        return []
    records = []
    number = start
    for index, (chain, constant) in enumerate(zip(receptor.chains, receptor.constant, strict=True)):
        keep = CHAIN_KEPT[lineage][0 if index == 0 else 1]
        if rng.random() > keep:
            continue
        mean = UMI_MEAN[lineage][0 if index == 0 else 1]
        umis = 1 + rng.negative_binomial(2, 2 / (2 + mean))
        reads = int(umis * rng.uniform(8, 25))
        records.append(airr_record(
            chain, sequence_id=f"{barcode}_contig_{number}", c_call=constant,
            umi_count=umis, reads=reads,
        ))
        number += 1
    if lineage in ("B", "plasma") and records and rng.random() < 0.05:
        # a second, non-productive light chain, as 10x often recovers
        extra = Chain(rearrange(rng, "IGK" if rng.random() < 0.5 else "IGL", productive=False))
        records.append(airr_record(
            extra, sequence_id=f"{barcode}_contig_{number}", c_call=None,
            umi_count=1 + rng.poisson(2), reads=int(rng.uniform(20, 80)),
        ))
    return records
