"""Simulated chains as Cell Ranger writes them in ``airr_rearrangement.tsv``.

Cell Ranger's AIRR table holds the assembled contig as both ``sequence`` and
``sequence_alignment`` (5' UTR, leader, V(D)J, the start of the constant region) and, as
``germline_alignment``, the reference segments of the clonotype's consensus end to end: the
5' UTR when the reference annotates one, leader and V as one feature, D, J and the constant
region, each untrimmed. Segment coordinates are 1-based with CIGARs over the whole contig; there
is no ``v_identity``.
"""

from __future__ import annotations

import zlib

import pandas as pd

from ._vdj_genes import (
    constant_sequence,
    d_segment,
    j_segment,
    translate,
    upstream,
    v_segment,
)

COLUMNS = (
    "cell_id", "clone_id", "sequence_id", "sequence", "sequence_aa", "productive", "rev_comp",
    "v_call", "v_cigar", "d_call", "d_cigar", "j_call", "j_cigar", "c_call", "c_cigar",
    "sequence_alignment", "germline_alignment", "junction", "junction_aa", "junction_length",
    "junction_aa_length", "v_sequence_start", "v_sequence_end", "d_sequence_start",
    "d_sequence_end", "j_sequence_start", "j_sequence_end", "c_sequence_start", "c_sequence_end",
    "consensus_count", "umi_count", "is_cell",
)
MIN_UTR, MIN_CONSTANT, MAX_CONSTANT = 10, 40, 160


def cellranger_airr(chains: pd.DataFrame) -> pd.DataFrame:
    """Cell Ranger's AIRR rows of simulated chains.

    Parameters
    ----------
    chains
        One row per chain: ``cell_id`` and the simulator's AIRR fields (``sequence``, gene
        calls, junction, counts and 0-based segment coordinates in ``sequence``).

    Returns
    -------
    One row per chain with Cell Ranger's columns (:data:`COLUMNS`). How much 5' UTR and
    constant region each contig holds follows from its ``sequence_id``, so the output is
    deterministic.
    """
    rows = [_row(record) for record in chains.to_dict("records")]
    table = pd.DataFrame(rows, columns=list(COLUMNS))
    integers = [c for c in COLUMNS if c.endswith(("_start", "_end", "_length", "_count"))]
    return table.astype(dict.fromkeys(integers, "Int64"))


def _gene(call: object) -> str | None:
    return str(call).split("*")[0] if isinstance(call, str) and call else None


def _cigar(start: int, end: int, length: int) -> str:
    parts = [(start, "S"), (end - start, "M"), (length - end, "S")]
    return "".join(f"{n}{op}" for n, op in parts if n > 0)


def _row(chain: dict) -> dict:
    v, d, j, c = (_gene(chain[f"{s}_call"]) for s in "vdjc")
    up = upstream(v)
    draw = zlib.crc32(str(chain["sequence_id"]).encode())
    utr = up.utr[len(up.utr) - (MIN_UTR + draw % (len(up.utr) - MIN_UTR + 1)):]
    constant = constant_sequence(c)[: MIN_CONSTANT + (draw >> 8) % (MAX_CONSTANT - MIN_CONSTANT)]
    body = chain["sequence"]
    contig = utr + up.leader + body + constant
    shift = len(utr) + len(up.leader)
    germline = (
        (up.utr if up.utr_annotated else "") + up.leader + v_segment(v).ungapped
        + v_segment(v).tail + (d_segment(d).sequence if d else "") + j_segment(j).sequence
        + constant
    )
    spans = {
        "v": (len(utr), shift + int(chain["v_sequence_end"])),
        "d": (shift + int(chain["d_sequence_start"]), shift + int(chain["d_sequence_end"]))
        if d else None,
        "j": (shift + int(chain["j_sequence_start"]), shift + len(body)),
        "c": (shift + len(body), len(contig)),
    }
    row = {
        "cell_id": chain["cell_id"], "clone_id": "", "sequence_id": chain["sequence_id"],
        "sequence": contig, "sequence_aa": translate(contig[len(utr): shift + len(body)]),
        "productive": "T" if chain["productive"] else "F", "rev_comp": "F",
        "v_call": v, "d_call": d, "j_call": j, "c_call": c,
        "sequence_alignment": contig, "germline_alignment": germline,
        "junction": chain["junction"], "junction_aa": chain["junction_aa"],
        "junction_length": len(chain["junction"]),
        "junction_aa_length": len(chain["junction_aa"]),
        "consensus_count": int(chain["consensus_count"]), "umi_count": int(chain["umi_count"]),
        "is_cell": "T",
    }
    for segment, span in spans.items():
        start, end = span if span else (None, None)
        row[f"{segment}_cigar"] = _cigar(start, end, len(contig)) if span else None
        row[f"{segment}_sequence_start"] = start + 1 if span else None
        row[f"{segment}_sequence_end"] = end if span else None
    return row
