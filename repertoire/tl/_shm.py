"""V-region somatic hypermutation of one chain, from whichever alignment its file carries.

Four sources, in order of preference, each recorded as the chain's ``shm_source``:

``alignment``
    IMGT-gapped ``sequence_alignment`` and germline of equal length (IgBLAST or Change-O with
    the IMGT reference, Dandelion): scirpy's :func:`scirpy.tl.mutational_load`, region ``v``
    (IMGT positions 1-312, divided by 312).
``alignment_ungapped``
    Ungapped alignments of equal length (IgBLAST ``-outfmt 19`` with a reference without IMGT
    gaps, TRUST4): mismatches from the first aligned V position (FR1 codon 1) through the
    Cys 104 codon over the informative positions, as shazam's ``observedMutations`` with
    ``frequency=TRUE`` counts them.
``cellranger_germline``
    Cell Ranger's ``airr_rearrangement.tsv``, whose ``sequence_alignment`` is the contig itself
    and whose ``germline_alignment`` is the clonotype consensus's concatenated reference
    (5' UTR when annotated, leader and V, D, J, constant): see :func:`cellranger_v_mutation`.
``v_identity``
    ``1 - v_identity`` (identities above 1 read as percentages).
"""

from __future__ import annotations

import re
import warnings

import awkward as ak
import numpy as np
import pandas as pd
from anndata import AnnData

from .. import _keys as K

SEQUENCE = "sequence_alignment"
SOURCES = ("alignment", "alignment_ungapped", "cellranger_germline", "v_identity")
# human IGHV/IGKV/IGLV leaders (L-PART1 + L-PART2) are 51-66 nt, most 57 (19 codons)
LEADER_LENGTH = 57
# below this identity the located germline V is not the contig's (a germline of another member
# of the clonotype, or another V gene)
MIN_V_IDENTITY = 0.7
# IMGT positions 1-312 end with the Cys 104 codon
IMGT_V_LENGTH = 312
FIELDS = ("sequence", "v_cigar", "v_sequence_start", "v_sequence_end", "junction", "v_identity")

NOTE_NO_SEQUENCE = (
    "no sequence alignment and no v_identity: 10x filtered_contig_annotations.csv holds no "
    "sequences; SHM needs Cell Ranger's airr_rearrangement.tsv (or an IgBLAST AIRR table)"
)
NOTE_NO_V = "Cell Ranger contig without V coordinates, v_cigar or junction in the contig"
NOTE_LOW_IDENTITY = (
    f"the contig's V matches the clonotype germline below identity {MIN_V_IDENTITY}: the "
    "germline is another chain's"
)
NOTE_UNALIGNED = (
    "alignment and germline differ in length and are not a Cell Ranger contig, and no v_identity"
)
NOTE_GAPPED = "scirpy's mutational_load gave no rate for the IMGT-gapped alignment"
NOTE_NO_JUNCTION = "junction not found in the ungapped alignment"

_CIGAR = re.compile(r"(\d+)([MIDNSHP=X])")
_BASES = np.frombuffer(b"ACGT", dtype=np.uint8)


def chain_shm(
    chains: pd.DataFrame, germline_key: str, *, leader_length: int = LEADER_LENGTH,
    min_identity: float = MIN_V_IDENTITY,
) -> pd.DataFrame:
    """V-region mutation frequency of each chain, where it came from, and why it is missing.

    Parameters
    ----------
    chains
        One row per chain with AIRR fields ``sequence_alignment``, ``germline_key`` and, where
        the file has them, those of :data:`FIELDS` (positions 0-based, as scirpy holds them).
    germline_key
        The germline field.
    leader_length
        Leader nucleotides skipped after the start of Cell Ranger's leader-and-V feature.
    min_identity
        Cell Ranger contigs whose V matches the located germline V less than this get NaN.

    Returns
    -------
    Indexed like ``chains``: ``shm_rate`` (float), ``shm_source`` (one of :data:`SOURCES` or
    ``None``) and ``note`` (why a chain has no rate, else ``None``).
    """
    table = chains.reindex(columns=[SEQUENCE, germline_key, *FIELDS]).astype(object)
    n = len(table)
    rate = np.full(n, np.nan)
    source = np.full(n, None, dtype=object)
    note = np.full(n, None, dtype=object)
    sequence, germline = table[SEQUENCE], table[germline_key]
    aligned = (sequence.notna() & germline.notna()).to_numpy()
    same_length = aligned & (sequence.str.len() == germline.str.len()).fillna(False).to_numpy()
    gapped = same_length & (
        sequence.str[:IMGT_V_LENGTH].str.contains(".", regex=False)
        | germline.str[:IMGT_V_LENGTH].str.contains(".", regex=False)
    ).fillna(False).to_numpy()
    cellranger = aligned & ~gapped & _cellranger_style(table, germline_key)
    ungapped = same_length & ~gapped & ~cellranger

    rows = np.flatnonzero(gapped)
    if len(rows):
        rate[rows] = scirpy_v_mutation(
            sequence.iloc[rows], germline.iloc[rows], table["junction"].iloc[rows]
        )
        source[rows[np.isfinite(rate[rows])]] = "alignment"
        note[rows[~np.isfinite(rate[rows])]] = NOTE_GAPPED
    for row in np.flatnonzero(ungapped):
        rate[row] = ungapped_v_mutation(sequence.iat[row], germline.iat[row],
                                        table["junction"].iat[row])
        if np.isfinite(rate[row]):
            source[row] = "alignment_ungapped"
        else:
            note[row] = NOTE_NO_JUNCTION
    for row in np.flatnonzero(cellranger):
        record = table.iloc[row]
        rate[row], note[row] = cellranger_v_mutation(
            record["sequence"], record[germline_key], record["v_cigar"],
            record["v_sequence_start"], record["v_sequence_end"], record["junction"],
            leader_length=leader_length, min_identity=min_identity,
        )
        if np.isfinite(rate[row]):
            source[row] = "cellranger_germline"

    identity = pd.to_numeric(table["v_identity"], errors="coerce").to_numpy(dtype=float)
    identity = np.where(identity > 1, identity / 100, identity)
    identity = np.where((identity >= 0) & (identity <= 1), identity, np.nan)
    fallback = ~np.isfinite(rate) & np.isfinite(identity)
    rate[fallback] = 1 - identity[fallback]
    source[fallback] = "v_identity"
    note[fallback] = None
    note[~aligned & ~fallback] = NOTE_NO_SEQUENCE
    note[aligned & ~np.isfinite(rate) & pd.isna(note)] = NOTE_UNALIGNED
    return pd.DataFrame({K.SHM_RATE: rate, K.SHM_SOURCE: source, "note": note},
                        index=chains.index)


def _cellranger_style(table: pd.DataFrame, germline_key: str) -> np.ndarray:
    """Chains whose alignment is the contig itself (Cell Ranger's), not aligned to a germline.

    The germline differs in length, or the table carries no identity (IgBLAST always writes
    one), so an alignment that happens to span the whole sequence is not taken for a contig.
    """
    contig = (table[SEQUENCE] == table["sequence"]).fillna(False).to_numpy(dtype=bool)
    differ = (table[SEQUENCE].str.len() != table[germline_key].str.len()).fillna(False)
    no_identity = table["v_identity"].isna().to_numpy()
    return contig & (differ.to_numpy(dtype=bool) | no_identity)


def _codes(text: str) -> np.ndarray:
    return np.frombuffer(text.upper().encode(), dtype=np.uint8)


def _rate(query: np.ndarray, germline: np.ndarray) -> float:
    """Mismatches over positions where both hold a base (not ``N``, not a gap)."""
    informative = np.isin(query, _BASES) & np.isin(germline, _BASES)
    n = int(informative.sum())
    return float((query[informative] != germline[informative]).sum() / n) if n else np.nan


def ungapped_v_mutation(sequence: str, germline: str, junction: object) -> float:
    """Mutation frequency of an ungapped alignment from its first position through Cys 104.

    Parameters
    ----------
    sequence, germline
        ``sequence_alignment`` and ``germline_alignment`` of equal length, starting at the
        first aligned V position; ``-`` marks an indel.
    junction
        The junction (Cys 104 codon to Trp/Phe 118 codon) as in the sequence.

    Returns
    -------
    Mismatches over informative positions up to the end of the Cys 104 codon; NaN when the
    junction is not found in the sequence.
    """
    if not isinstance(junction, str) or not junction:
        return np.nan
    query = _codes(sequence)
    bases = np.flatnonzero(query != ord("-"))
    start = sequence.replace("-", "").upper().find(junction.upper())
    if start < 0:
        return np.nan
    end = bases[start + 2] + 1
    return _rate(query[:end], _codes(germline)[:end])


def cellranger_v_mutation(
    sequence: object, germline: object, v_cigar: object, v_start: object, v_end: object,
    junction: object, *, leader_length: int = LEADER_LENGTH, min_identity: float = MIN_V_IDENTITY,
) -> tuple[float, str | None]:
    """V-region mutation frequency of a Cell Ranger contig against its clonotype's germline.

    Cell Ranger annotates leader and V as one feature and writes as germline the clonotype
    consensus's reference segments end to end, offset from the contig. The contig's V
    (``sequence[v_start:v_end]``) is walked along ``v_cigar`` (``M`` compares, ``I`` skips
    contig bases, ``D`` germline bases); the germline position of its first aligned block is
    the best ungapped offset of that block in ``germline``. Compared are the positions from
    ``leader_length`` germline nucleotides after that start through the Cys 104 codon (the
    first three junction nucleotides); the rate is mismatches over compared positions that
    hold a base on both sides.

    Parameters
    ----------
    sequence
        The contig.
    germline
        Cell Ranger's ``germline_alignment``.
    v_cigar
        CIGAR of the V alignment, soft clips included (``49S353M166S``).
    v_start, v_end
        0-based start and end of the V in the contig (scirpy's reading of the 1-based AIRR
        ``v_sequence_start`` and ``v_sequence_end``).
    junction
        The junction nucleotides, found in the contig.
    leader_length
        Leader nucleotides to skip (a fixed 57: human leaders are 51-66 nt).
    min_identity
        Least identity of the first aligned block to its germline.

    Returns
    -------
    The rate and ``None``, or NaN and the reason.
    """
    texts = (sequence, germline, v_cigar, junction)
    if not all(isinstance(t, str) and t for t in texts) or pd.isna(v_start) or pd.isna(v_end):
        return np.nan, NOTE_NO_V
    stop = sequence.upper().find(junction.upper())
    if stop < 0:
        return np.nan, NOTE_NO_V
    stop += 3  # through the Cys 104 codon
    ops = [(int(n), op) for n, op in _CIGAR.findall(v_cigar) if op not in "SHNP"]
    if not ops or ops[0][1] not in "M=X":
        return np.nan, NOTE_NO_V
    query, reference = _codes(sequence), _codes(germline)
    start = int(v_start)
    block = query[start:start + ops[0][0]]
    offset, identity = _best_offset(block, reference)
    if identity < min_identity:
        return np.nan, NOTE_LOW_IDENTITY
    q_index, g_index = [], []
    q, g = start, offset
    for n, op in ops:
        if op in "M=X":
            q_index.append(np.arange(q, q + n))
            g_index.append(np.arange(g, g + n))
            q, g = q + n, g + n
        elif op == "I":
            q += n
        elif op == "D":
            g += n
    q_index, g_index = np.concatenate(q_index), np.concatenate(g_index)
    keep = (
        (g_index - offset >= leader_length) & (q_index < min(stop, int(v_end)))
        & (g_index < len(reference)) & (q_index < len(query))
    )
    return _rate(query[q_index[keep]], reference[g_index[keep]]), None


def _best_offset(block: np.ndarray, reference: np.ndarray) -> tuple[int, float]:
    """Ungapped offset of ``block`` in ``reference`` with the most identical bases."""
    if len(block) == 0 or len(reference) < len(block):
        return 0, 0.0
    windows = np.lib.stride_tricks.sliding_window_view(reference, len(block))
    matches = (windows == block).sum(axis=1)
    offset = int(np.argmax(matches))
    return offset, float(matches[offset] / len(block))


def scirpy_v_mutation(
    sequence: pd.Series, germline: pd.Series, junction: pd.Series
) -> np.ndarray:
    """Scirpy's ``v_mutation_freq`` of IMGT-gapped alignments, one chain per row."""
    import scirpy as ir

    n = len(sequence)
    chains = ak.zip({
        "locus": np.full(n, "IGH", dtype=object).tolist(),
        SEQUENCE: sequence.astype(str).tolist(),
        "germline": germline.astype(str).tolist(),
        "junction": junction.fillna("").astype(str).tolist(),
    })
    view = AnnData(obs=pd.DataFrame(index=pd.RangeIndex(n).astype(str)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        view.obsm[K.AIRR] = ak.unflatten(chains, np.ones(n, dtype=np.int64))
        ir.pp.index_chains(view, filter=[])
        ir.tl.mutational_load(view, regions=["v"], germline_key="germline",
                              sequence_key=SEQUENCE, junction_key="junction")
        frequency = ir.get.airr(view, "v_mutation_freq", "VDJ_1")
    return pd.to_numeric(frequency, errors="coerce").to_numpy(dtype=float)
