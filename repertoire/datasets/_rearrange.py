"""V(D)J rearrangement, somatic hypermutation and AIRR records of one chain."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import numpy as np

from ._vdj_genes import (
    BASES,
    CDR_CODONS,
    D_GENES,
    IMGT_V_LENGTH,
    J_GENES,
    STOP_CODONS,
    V_GENES,
    Segment,
    VSegment,
    constant_gene,
    d_segment,
    j_prefix_length,
    j_segment,
    translate,
    v_segment,
)

VDJ_LOCI = ("IGH", "TRB")


@functools.cache
def _table(
    locus_table: tuple[tuple[str, float], ...], boost: tuple[tuple[str, float], ...]
) -> tuple[list[str], np.ndarray]:
    factors = dict(boost)
    weights = np.array([w * factors.get(n, 1.0) for n, w in locus_table], dtype=float)
    return [n for n, _ in locus_table], weights / weights.sum()


def _pick(
    rng: np.random.Generator, table: list[tuple[str, float]], boost: dict[str, float] | None = None
) -> str:
    names, p = _table(tuple(table), tuple(sorted((boost or {}).items())))
    return names[rng.choice(len(names), p=p)]


@dataclass
class Rearrangement:
    """An unmutated V(D)J rearrangement: the naive ancestor of a clone's chain.

    ``gapped`` is the IMGT-gapped sequence (312 V positions, then CDR3 and J without gaps); being
    unmutated it is also the germline alignment of every descendant. ``n_mask`` marks the
    non-templated and D nucleotides (masked by ``N`` in ``germline_alignment_d_mask``).
    """

    locus: str
    v: VSegment
    d: Segment | None
    j: Segment
    gapped: str
    n_mask: np.ndarray
    junction_start: int  # index in ``gapped`` of the Cys 104 codon
    junction_end: int  # index after the Trp/Phe codon
    productive: bool
    v_end: int  # index in ``gapped`` after the V nucleotides kept in CDR3
    d_span: tuple[int, int] | None  # the D nucleotides in ``gapped``
    j_start: int  # index in ``gapped`` of the first J nucleotide

    @property
    def n_gaps(self) -> int:
        """IMGT gap positions (all within the V region)."""
        return IMGT_V_LENGTH - len(self.v.ungapped)

    @functools.cached_property
    def mutation_sites(self) -> tuple[np.ndarray, np.ndarray]:
        """Positions that can mutate and their relative targeting weight.

        CDR1/2 positions are targeted twice as often as framework, CDR3 and J half as often; the
        conserved Cys 104 and Trp/Phe codons are spared.
        """
        sites = np.flatnonzero(np.frombuffer(self.gapped.encode(), dtype=np.uint8) != ord("."))
        codon = sites // 3 + 1
        in_cdr = np.zeros(len(sites), dtype=bool)
        for low, high in CDR_CODONS:
            in_cdr |= (codon >= low) & (codon <= high)
        weights = np.where(sites < IMGT_V_LENGTH, np.where(in_cdr, 2.0, 1.0), 0.5)
        conserved = (
            (sites >= self.junction_start) & (sites < self.junction_start + 3)
        ) | ((sites >= self.junction_end - 3) & (sites < self.junction_end))
        weights[conserved] = 0.0
        return sites, weights

    def in_frame_stop(self, sequence: str) -> bool:
        """Whether ``sequence`` (gapped like this rearrangement) holds a stop codon in frame."""
        return any(
            sequence[i:i + 3] in STOP_CODONS
            for i in range(0, len(sequence) - 2, 3)
            if "." not in sequence[i:i + 3]
        )


def rearrange(
    rng: np.random.Generator, locus: str, *, productive: bool = True,
    v_boost: dict[str, float] | None = None, max_tries: int = 200,
) -> Rearrangement:
    """Draw a rearrangement of ``locus`` (IGH, IGK, IGL, TRA, TRB)."""
    for _ in range(max_tries):
        v = v_segment(_pick(rng, V_GENES[locus], v_boost))
        j = j_segment(_pick(rng, J_GENES[locus]))
        d = d_segment(_pick(rng, D_GENES[locus])) if locus in VDJ_LOCI else None
        v_keep = v.tail[: len(v.tail) - int(rng.integers(0, 5))]
        j_trim = int(rng.integers(0, min(7, j_prefix_length(j)) + 1))
        j_part = j.sequence[j_trim:]
        if d is not None:
            trim5, trim3 = rng.integers(0, 6, 2)
            d_part = d.sequence[trim5: len(d.sequence) - trim3]
            n1 = "".join(rng.choice(BASES, int(rng.integers(0, 11))))
        else:
            d_part, n1 = "", ""
        fixed = len(v.ungapped) + len(v_keep) + len(n1) + len(d_part) + j_prefix_length(j) - j_trim
        n2_length = int(rng.integers(0, 9))
        if productive:
            n2_length += (-(fixed + n2_length)) % 3
        elif (fixed + n2_length) % 3 == 0:
            n2_length += 1
        in_frame = (fixed + n2_length) % 3 == 0
        n2 = "".join(rng.choice(BASES, n2_length))
        cdr3 = v_keep + n1 + d_part + n2 + j_part
        gapped = v.gapped + cdr3
        n_mask = np.zeros(len(gapped), dtype=bool)
        n_mask[
            IMGT_V_LENGTH + len(v_keep):
            IMGT_V_LENGTH + len(v_keep) + len(n1) + len(d_part) + len(n2)
        ] = True
        junction_start = IMGT_V_LENGTH - 3
        junction_end = (
            IMGT_V_LENGTH + len(v_keep) + len(n1) + len(d_part) + len(n2) + j_prefix_length(j)
            - j_trim + 3
        )
        v_end = IMGT_V_LENGTH + len(v_keep)
        d_start = v_end + len(n1)
        rearrangement = Rearrangement(
            locus, v, d, j, gapped, n_mask, junction_start, junction_end, productive,
            v_end=v_end, d_span=(d_start, d_start + len(d_part)) if d is not None else None,
            j_start=len(gapped) - len(j_part),
        )
        has_stop = rearrangement.in_frame_stop(gapped.replace(".", "")) if in_frame else False
        if productive and (has_stop or junction_end - junction_start < 15):
            continue
        return rearrangement
    raise RuntimeError(f"could not draw a productive {locus} rearrangement")


@dataclass
class Chain:
    """One chain of one cell: a rearrangement with its mutations and expression."""

    rearrangement: Rearrangement
    mutations: dict[int, str] = field(default_factory=dict)  # index in gapped -> new base

    @property
    def sequence_alignment(self) -> str:
        """The IMGT-gapped, mutated sequence."""
        bases = list(self.rearrangement.gapped)
        for position, base in self.mutations.items():
            bases[position] = base
        return "".join(bases)

    def v_mutations(self) -> int:
        """Mutations within IMGT positions 1-312."""
        return sum(1 for p in self.mutations if p < IMGT_V_LENGTH)


def mutate(
    rng: np.random.Generator, rearrangement: Rearrangement, rate: float,
    inherited: dict[int, str] | None = None,
) -> dict[int, str]:
    """Add somatic hypermutations at ``rate`` per nucleotide to ``inherited`` ones.

    Sites follow :attr:`Rearrangement.mutation_sites`; no mutation may create a stop codon
    (selection against non-functional receptors).
    """
    mutations = dict(inherited or {})
    gapped = rearrangement.gapped
    sites, weights = rearrangement.mutation_sites
    n_new = rng.binomial(len(sites), min(rate, 0.5))
    if n_new == 0:
        return mutations
    n_candidates = min(int((weights > 0).sum()), n_new * 3)
    candidates = rng.choice(sites, size=n_candidates, replace=False, p=weights / weights.sum())
    sequence = list(gapped)
    for position, base in mutations.items():
        sequence[position] = base
    added = 0
    for position in candidates:
        if added == n_new:
            break
        if position in mutations:
            continue
        original = gapped[position]
        base = rng.choice([b for b in "ACGT" if b != original])
        sequence[position] = base
        if rearrangement.productive and _codon_is_stop(sequence, position):
            sequence[position] = original
            continue
        mutations[int(position)] = str(base)
        added += 1
    return mutations


def _codon_is_stop(sequence: list[str], position: int) -> bool:
    ungapped_index = position - sum(1 for b in sequence[:position] if b == ".")
    start = position - ungapped_index % 3
    codon = "".join(sequence[start:start + 3])
    return codon in STOP_CODONS


def airr_record(
    chain: Chain, *, sequence_id: str, c_call: str | None, umi_count: int, reads: int,
) -> dict[str, object]:
    """AIRR rearrangement fields of a chain (IgBLAST/Change-O style, IMGT-gapped alignments).

    Segment coordinates (``v_sequence_start`` ...) are 0-based, end-exclusive positions in
    ``sequence``, as scirpy holds AIRR coordinates.
    """
    r = chain.rearrangement
    aligned = chain.sequence_alignment
    germline = r.gapped
    masked = "".join("N" if m else b for b, m in zip(germline, r.n_mask, strict=True))
    junction = aligned[r.junction_start: r.junction_end]
    v_length = len(r.v.ungapped)
    return {
        "sequence_id": sequence_id,
        "sequence": aligned.replace(".", ""),
        "rev_comp": False,
        "productive": r.productive,
        "locus": r.locus,
        "v_call": f"{r.v.name}*01",
        "d_call": f"{r.d.name}*01" if r.d is not None else None,
        "j_call": f"{r.j.name}*01",
        "c_call": c_call if c_call is not None else constant_gene(r.locus, r.j.name),
        "sequence_alignment": aligned,
        "germline_alignment": germline,
        "germline_alignment_d_mask": masked,
        "junction": junction,
        "junction_aa": translate(junction),
        "junction_length": len(junction),
        "v_identity": round(1.0 - chain.v_mutations() / v_length, 6),
        "v_cigar": f"{v_length}M",
        "d_cigar": None,
        "j_cigar": None,
        "v_sequence_start": 0,
        "v_sequence_end": r.v_end - r.n_gaps,
        "d_sequence_start": r.d_span[0] - r.n_gaps if r.d_span else None,
        "d_sequence_end": r.d_span[1] - r.n_gaps if r.d_span else None,
        "j_sequence_start": r.j_start - r.n_gaps,
        "j_sequence_end": len(germline) - r.n_gaps,
        "umi_count": int(umi_count),
        "consensus_count": int(reads),
    }
