"""Human V, D, J and C gene segments for the receptor simulator.

Gene names are real IMGT names; usage weights are rough frequencies in human repertoires. The
nucleotide sequences are synthetic (deterministic per gene name) but have the structure the
analysis relies on: IMGT-gapped V regions of 312 positions with gap codons in CDR1 and CDR2, the
conserved Cys 104 codon at positions 310-312, and J segments carrying the conserved Trp (IGH) or
Phe (light chains, TRA, TRB) codon followed by the framework-4 motif.
"""

from __future__ import annotations

import functools
import zlib
from dataclasses import dataclass

import numpy as np

IMGT_V_LENGTH = 312  # IMGT positions 1-312: the V region up to and including Cys 104

STOP_CODONS = frozenset({"TAA", "TAG", "TGA"})
BASES = np.array(list("ACGT"))
_CODON_TABLE = dict(zip(
    (a + b + c for a in "TCAG" for b in "TCAG" for c in "TCAG"),
    "FFLLSSSSYY**CC*WLLLLPPPPHHQQRRRRIIIMTTTTNNKKSSRRVVVVAAAADDEEGGGG",
    strict=True,
))


def translate(sequence: str) -> str:
    """Translate a nucleotide sequence in frame 1 (``*`` for stops, ``X`` for unknown codons)."""
    return "".join(
        _CODON_TABLE.get(sequence[i:i + 3], "X") for i in range(0, len(sequence) - 2, 3)
    )


# (name, usage weight) per segment; IGHV4-34 carries the cold-agglutinin/anti-erythrocyte
# idiotype and is enriched in the simulated autoreactive clones.
V_GENES = {
    "IGH": [
        ("IGHV1-2", 3), ("IGHV1-3", 2), ("IGHV1-18", 4), ("IGHV1-24", 1), ("IGHV1-46", 3),
        ("IGHV1-69", 6), ("IGHV2-5", 2), ("IGHV2-70", 1), ("IGHV3-7", 4), ("IGHV3-9", 3),
        ("IGHV3-11", 3), ("IGHV3-13", 1), ("IGHV3-15", 3), ("IGHV3-21", 4), ("IGHV3-23", 10),
        ("IGHV3-30", 7), ("IGHV3-33", 4), ("IGHV3-48", 3), ("IGHV3-49", 1), ("IGHV3-53", 2),
        ("IGHV3-64", 1), ("IGHV3-66", 1), ("IGHV3-72", 1), ("IGHV3-73", 1), ("IGHV3-74", 3),
        ("IGHV4-4", 2), ("IGHV4-31", 2), ("IGHV4-34", 5), ("IGHV4-39", 6), ("IGHV4-59", 4),
        ("IGHV4-61", 2), ("IGHV5-10-1", 1), ("IGHV5-51", 4), ("IGHV6-1", 1), ("IGHV7-4-1", 1),
    ],
    "IGK": [
        ("IGKV1-5", 5), ("IGKV1-8", 2), ("IGKV1-9", 3), ("IGKV1-12", 2), ("IGKV1-16", 2),
        ("IGKV1-17", 2), ("IGKV1-27", 2), ("IGKV1-33", 4), ("IGKV1-39", 8), ("IGKV1D-8", 1),
        ("IGKV2-24", 1), ("IGKV2-28", 4), ("IGKV2-30", 2), ("IGKV3-11", 5), ("IGKV3-15", 5),
        ("IGKV3-20", 10), ("IGKV4-1", 6), ("IGKV5-2", 1),
    ],
    "IGL": [
        ("IGLV1-36", 1), ("IGLV1-40", 4), ("IGLV1-44", 4), ("IGLV1-47", 4), ("IGLV1-51", 4),
        ("IGLV2-8", 2), ("IGLV2-11", 4), ("IGLV2-14", 7), ("IGLV2-18", 1), ("IGLV2-23", 4),
        ("IGLV3-1", 4), ("IGLV3-10", 2), ("IGLV3-19", 3), ("IGLV3-21", 4), ("IGLV3-25", 3),
        ("IGLV4-69", 1), ("IGLV6-57", 2), ("IGLV7-43", 1), ("IGLV8-61", 1),
    ],
    "TRA": [(f"TRAV{n}", w) for n, w in [
        ("1-1", 1), ("1-2", 3), ("2", 2), ("3", 2), ("4", 1), ("5", 2), ("6", 2), ("8-1", 1),
        ("8-2", 1), ("8-3", 2), ("8-4", 2), ("8-6", 2), ("9-2", 3), ("10", 1), ("12-1", 3),
        ("12-2", 3), ("12-3", 2), ("13-1", 3), ("13-2", 2), ("14DV4", 2), ("16", 1), ("17", 3),
        ("19", 3), ("20", 2), ("21", 4), ("22", 2), ("23DV6", 1), ("24", 2), ("25", 2),
        ("26-1", 2), ("26-2", 2), ("27", 2), ("29DV5", 2), ("30", 1), ("34", 1), ("35", 1),
        ("36DV7", 1), ("38-1", 1), ("38-2DV8", 2), ("39", 1), ("41", 2),
    ]],
    "TRB": [(f"TRBV{n}", w) for n, w in [
        ("2", 4), ("3-1", 2), ("4-1", 2), ("4-2", 1), ("4-3", 1), ("5-1", 4), ("5-4", 1),
        ("5-5", 1), ("5-6", 2), ("6-1", 2), ("6-2", 1), ("6-5", 3), ("6-6", 1), ("7-2", 3),
        ("7-3", 1), ("7-6", 1), ("7-8", 1), ("7-9", 4), ("9", 3), ("10-1", 1), ("10-2", 1),
        ("10-3", 2), ("11-1", 1), ("11-2", 2), ("11-3", 1), ("12-3", 2), ("12-4", 1),
        ("12-5", 1), ("13", 1), ("14", 2), ("15", 2), ("18", 2), ("19", 4), ("20-1", 8),
        ("24-1", 1), ("25-1", 1), ("27", 3), ("28", 4), ("29-1", 3), ("30", 3),
    ]],
}
D_GENES = {
    "IGH": [(g, 1) for g in (
        "IGHD1-1", "IGHD1-26", "IGHD2-2", "IGHD2-15", "IGHD2-21", "IGHD3-3", "IGHD3-10",
        "IGHD3-22", "IGHD4-17", "IGHD5-12", "IGHD5-18", "IGHD6-13", "IGHD6-19", "IGHD7-27",
    )],
    "TRB": [("TRBD1", 1), ("TRBD2", 1)],
}
J_GENES = {
    "IGH": [("IGHJ1", 1), ("IGHJ2", 1), ("IGHJ3", 3), ("IGHJ4", 10), ("IGHJ5", 3), ("IGHJ6", 5)],
    "IGK": [("IGKJ1", 4), ("IGKJ2", 3), ("IGKJ3", 1), ("IGKJ4", 3), ("IGKJ5", 1)],
    "IGL": [("IGLJ1", 3), ("IGLJ2", 5), ("IGLJ3", 4), ("IGLJ7", 1)],
    "TRA": [(f"TRAJ{n}", 1) for n in (
        3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 15, 16, 17, 18, 20, 21, 22, 23, 24, 26, 27, 28, 29,
        30, 31, 32, 33, 34, 36, 37, 38, 39, 40, 41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 52, 53,
        54, 56, 57, 58,
    )],
    "TRB": [(f"TRBJ{n}", 1) for n in (
        "1-1", "1-2", "1-3", "1-4", "1-5", "1-6", "2-1", "2-2", "2-3", "2-4", "2-5", "2-6", "2-7",
    )],
}
# framework-4 motifs after the conserved J codon (Trp for IGH, Phe elsewhere)
J_MOTIF = {
    "IGH": "TGGGGCCAAGGGACCACGGTCACCGTCTCCTCAG",
    "IGK": "TTCGGCCAAGGGACCAAGGTGGAAATCAAAC",
    "IGL": "TTCGGCGGAGGGACCAAGCTGACCGTCCTAG",
    "TRA": "TTTGGAAAAGGAACTCGCCTGACTGTGAACCCAA",
    "TRB": "TTCGGGCCAGGCACGCGGCTCCTGGTGCTCG",
}
# germline nucleotides each segment contributes to CDR3: V after Cys 104, J before Trp/Phe,
# chosen so junction lengths match human repertoires (IGH ~48 nt, IGK/IGL ~33, TRA ~40, TRB ~44)
TAIL_LENGTH = {"IGH": (4, 8), "IGK": (14, 19), "IGL": (14, 19), "TRA": (12, 17), "TRB": (6, 10)}
J_PREFIX_LENGTH = {"IGH": (12, 21), "IGK": (6, 9), "IGL": (6, 9), "TRA": (13, 19), "TRB": (11, 15)}
HEAVY_ISOTYPES = ("IGHM", "IGHD", "IGHG1", "IGHG2", "IGHG3", "IGHG4", "IGHA1", "IGHA2", "IGHE")
SWITCHED_ISOTYPES = ("IGHG1", "IGHG2", "IGHG3", "IGHG4", "IGHA1", "IGHA2", "IGHE")

# IMGT gap codons per locus: (CDR1 gap codons, CDR2 gap codons) alternatives
_GAP_CODONS = {
    "IGH": [((31, 32, 33, 34), (61, 62)), ((32, 33), (61, 62)), ((31, 32, 33, 34), (60, 61, 62))],
    "IGK": [
        ((29, 30, 31, 32, 33, 34), (58, 59, 60, 61, 62, 63, 64)),
        ((33,), (58, 59, 60, 61, 62, 63, 64)),
    ],
    "IGL": [((31, 32, 33), (58, 59, 60, 61, 62, 63, 64)), ((32, 33), (58, 59, 60, 61, 62, 63, 64))],
    "TRA": [
        ((31, 32, 33, 34, 35, 36), (58, 59, 60, 61, 62)),
        ((32, 33, 34, 35, 36), (58, 59, 60, 61)),
    ],
    "TRB": [
        ((31, 32, 33, 34, 35, 36, 37), (59, 60, 61, 62)),
        ((32, 33, 34, 35, 36, 37), (59, 60, 61)),
    ],
}
CDR_CODONS = ((27, 38), (56, 65))  # IMGT CDR1 and CDR2, inclusive


@dataclass(frozen=True)
class VSegment:
    """A V gene: IMGT-gapped germline (312 positions) and the 3' nucleotides after Cys 104."""

    name: str
    locus: str
    gapped: str
    tail: str

    @property
    def ungapped(self) -> str:
        """The germline V without IMGT gaps, up to Cys 104."""
        return self.gapped.replace(".", "")


@dataclass(frozen=True)
class Segment:
    """A D or J gene: name and germline nucleotides (for J, the CDR3 part then the motif)."""

    name: str
    sequence: str


def _rng_for(name: str) -> np.random.Generator:
    return np.random.default_rng(zlib.crc32(name.encode()))


def _random_codon(rng: np.random.Generator) -> str:
    while True:
        codon = "".join(rng.choice(BASES, 3))
        if codon not in STOP_CODONS:
            return codon


@functools.cache
def v_segment(name: str) -> VSegment:
    """Return the simulated germline of V gene ``name``."""
    locus = name[:3]
    rng = _rng_for(name)
    cdr1_gaps, cdr2_gaps = _GAP_CODONS[locus][rng.integers(len(_GAP_CODONS[locus]))]
    gaps = set(cdr1_gaps) | set(cdr2_gaps)
    if locus == "IGH" and rng.random() < 0.5:
        gaps.add(10)
    conserved = {23: "TGT", 41: "TGG", 104: "TGT"}
    codons = [
        "..." if codon in gaps else conserved.get(codon) or _random_codon(rng)
        for codon in range(1, 105)
    ]
    low, high = TAIL_LENGTH[locus]
    tail = "".join(rng.choice(BASES, int(rng.integers(low, high + 1))))
    return VSegment(name=name, locus=locus, gapped="".join(codons), tail=tail)


@functools.cache
def d_segment(name: str) -> Segment:
    """Return the simulated germline of D gene ``name``."""
    rng = _rng_for(name)
    low, high = (11, 31) if name.startswith("IGH") else (12, 16)
    return Segment(name, "".join(rng.choice(BASES, int(rng.integers(low, high + 1)))))


@functools.cache
def j_segment(name: str) -> Segment:
    """Return the simulated germline of J gene ``name``: CDR3 part, then the conserved motif."""
    locus = name[:3]
    rng = _rng_for(name)
    low, high = J_PREFIX_LENGTH[locus]
    prefix_length = int(rng.integers(low, high + 1))
    return Segment(name, "".join(rng.choice(BASES, prefix_length)) + J_MOTIF[locus])


def j_prefix_length(segment: Segment) -> int:
    """Length of the J segment before its conserved Trp/Phe codon."""
    return len(segment.sequence) - len(J_MOTIF[segment.name[:3]])


def constant_gene(locus: str, j_call: str) -> str:
    """Constant gene of a light or TCR chain, following its J gene where it does in humans."""
    if locus == "IGK":
        return "IGKC"
    if locus == "IGL":
        return "IGLC" + j_call.removeprefix("IGLJ")
    if locus == "TRA":
        return "TRAC"
    return "TRBC1" if j_call.startswith("TRBJ1") else "TRBC2"


# leader lengths (L-PART1 + L-PART2, nt) and their weights: human IGHV leaders are mostly 19
# codons, IGKV 20-22, IGLV 19-20; all lie within 51-66 nt
LEADER_LENGTHS = {
    "IGH": ((54, 57, 60), (0.15, 0.7, 0.15)),
    "IGK": ((60, 63, 66), (0.5, 0.2, 0.3)),
    "IGL": ((57, 60, 63), (0.45, 0.45, 0.1)),
    "TRA": ((51, 57, 63, 66), (0.25, 0.25, 0.25, 0.25)),
    "TRB": ((51, 57, 63, 66), (0.25, 0.25, 0.25, 0.25)),
}
UTR_LENGTH = (40, 110)  # 5' UTR nucleotides of a V gene's transcript
UTR_ANNOTATED = 0.7  # share of V genes whose reference carries the 5' UTR
CONSTANT_LENGTH = 240  # nucleotides of each constant gene's first exon


@dataclass(frozen=True)
class Upstream:
    """What a V gene's transcript holds before its V region: 5' UTR and leader."""

    utr: str
    leader: str
    utr_annotated: bool


@functools.cache
def upstream(v_name: str) -> Upstream:
    """Return the simulated 5' UTR and leader of V gene ``v_name`` (leader from ATG)."""
    rng = _rng_for(f"{v_name}/upstream")
    lengths, weights = LEADER_LENGTHS[v_name[:3]]
    length = int(rng.choice(lengths, p=weights))
    leader = "ATG" + "".join(_random_codon(rng) for _ in range(length // 3 - 1))
    utr = "".join(rng.choice(BASES, int(rng.integers(UTR_LENGTH[0], UTR_LENGTH[1] + 1))))
    return Upstream(utr=utr, leader=leader, utr_annotated=bool(rng.random() < UTR_ANNOTATED))


@functools.cache
def constant_sequence(c_name: str) -> str:
    """Return the simulated start of constant gene ``c_name`` (first exon)."""
    rng = _rng_for(f"{c_name}/constant")
    return "".join(rng.choice(BASES, CONSTANT_LENGTH))
