"""Plain-word flags on one patient, each from a stated threshold on the report's tables."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pandas as pd

from .. import _keys as K
from .._errors import InputError

#: Niches whose post-infusion score is compared with the remission range (the T-B help and
#: plasma-cell survival niches of BIOLOGY.md); ``niche_relapse_range(niches=None)`` takes all.
FLAG_NICHES = ("T_B_help", "plasma_survival")

#: Defaults of every flag threshold; ``patient_report(..., flags={...})`` overrides them.
FLAG_THRESHOLDS: dict[str, float] = {
    # memory-dominant: memory / naive fraction (transcriptome) above this ratio
    "memory_over_naive": 1.0,
    # baseline clones re-emerged: at least this many baseline clones seen after infusion
    "min_returned_clones": 1,
    # niche in the relapse range: score above the remission maximum of at least this many
    # other remission patients at the same timepoint and tissue
    "niche_min_reference_patients": 2,
}

FLAG_TEXT = {
    "memory_over_naive": "memory fraction of B cells (transcriptome) above {value:g} x the naive "
                         "fraction, at a post-infusion sample with at least min_cells B cells",
    "min_returned_clones": "at least {value:g} baseline BCR clone(s) found again after infusion",
    "niche_min_reference_patients": "post-infusion niche score above the highest score of the "
                                    "cohort's remission patients (at least {value:g} of them, "
                                    "this patient excluded) at the same timepoint and tissue",
}


@dataclass(frozen=True)
class Flag:
    """One flag of a patient.

    Its name (the ``metric`` of its summary rows), its sentence, the section (``#anchor``)
    holding the evidence, the samples behind it as ``(sample_id, timepoint)`` pairs (none
    for a patient-level flag), and a few words for a cell of the cohort's flag table.
    """

    name: str
    text: str
    anchor: str
    where: tuple[tuple[str, str], ...] = ()
    short: str = ""


def thresholds(flags: Mapping[str, float] | None) -> dict[str, float]:
    """Return the default thresholds updated by ``flags``, refusing unknown names."""
    values = dict(FLAG_THRESHOLDS)
    for name, value in (flags or {}).items():
        if name not in values:
            raise InputError(
                f"flag threshold '{name}' is not one of {', '.join(sorted(values))}."
            )
        values[name] = float(value)
    return values


def _post(table: pd.DataFrame) -> pd.DataFrame:
    return table[table[K.DAY].astype(float) > 0].sort_values(K.DAY)


def memory_dominant(samples: pd.DataFrame, *, min_cells: int, ratio: float) -> list[Flag]:
    """Post-infusion samples whose transcriptome memory fraction exceeds ``ratio`` x naive.

    Parameters
    ----------
    samples
        This patient's rows of :func:`repertoire.get.reconstitution`.
    min_cells
        Fewest B cells (``n_B_tx``) behind the fractions.
    ratio
        Memory must exceed ``ratio`` times the naive fraction.

    Returns
    -------
    One flag per such sample.
    """
    needed = {"frac_memory_tx", "frac_naive_tx", "n_B_tx", K.DAY}
    if samples.empty or not needed <= set(samples.columns):
        return []
    rows = _post(samples)
    rows = rows[(rows["n_B_tx"] >= min_cells)
                & (rows["frac_memory_tx"] > ratio * rows["frac_naive_tx"])]
    return [Flag("memory_dominant",
                 f"memory-dominant reconstitution at {row[K.TIMEPOINT]} "
                 f"({row[K.TISSUE]}: memory {row['frac_memory_tx']:.0%} vs naive "
                 f"{row['frac_naive_tx']:.0%} of {int(row['n_B_tx'])} B cells)",
                 "reconstitution", ((str(row[K.SAMPLE]), str(row[K.TIMEPOINT])),),
                 f"{row[K.TIMEPOINT]} {row[K.TISSUE]}")
            for _, row in rows.iterrows()]


def aplasia(samples: pd.DataFrame) -> list[Flag]:
    """Flag the last post-infusion timepoint in B-cell aplasia, when any is.

    Parameters
    ----------
    samples
        This patient's rows of :func:`repertoire.get.reconstitution`.

    Returns
    -------
    No flag, or one naming the last aplastic timepoint (and saying so when it is the last
    sample of all).
    """
    if samples.empty or "aplasia" not in samples:
        return []
    rows = _post(samples)
    aplastic = rows[rows["aplasia"].astype(bool)]
    if aplastic.empty:
        return []
    last = aplastic.iloc[-1]
    text = f"aplasia until {last[K.TIMEPOINT]}"
    if last[K.DAY] == rows[K.DAY].max():
        text += " (the last sample: no B-cell return seen yet)"
    return [Flag("aplasia", text, "reconstitution",
                 ((str(last[K.SAMPLE]), str(last[K.TIMEPOINT])),), f"until {last[K.TIMEPOINT]}")]


def returned_clones(clones: pd.DataFrame | None, *, minimum: float) -> list[Flag]:
    """Whether baseline clones came back after infusion.

    Parameters
    ----------
    clones
        This patient's rows of ``repertoire.get.clone_tracking(adata, "clones")``.
    minimum
        Fewest returned clones for the flag.

    Returns
    -------
    No flag or one.
    """
    if clones is None or clones.empty or "returned" not in clones:
        return []
    back = clones[clones["returned"].astype(bool)]
    if len(back) < max(minimum, 1):
        return []
    cells = int(back["n_cells_after"].sum())
    return [Flag("baseline_clones_returned",
                 f"baseline clones re-emerged ({len(back)} clone(s), {cells} cell(s) after "
                 "infusion)", "bcr", (), f"{len(back)} clone(s)")]


def niche_relapse_range(
    scores: pd.DataFrame | None,
    patient: str,
    *,
    min_reference: float,
    niches: Sequence[str] | None = FLAG_NICHES,
) -> list[Flag]:
    """Post-infusion niche scores above every remission patient's at that timepoint and tissue.

    Parameters
    ----------
    scores
        The cohort's :func:`repertoire.get.niche_scores`.
    patient
        This patient.
    min_reference
        Fewest other remission patients scored at that timepoint and tissue.
    niches
        The niches to flag (``None``: all).

    Returns
    -------
    One flag per niche, naming each sample above the remission range.
    """
    if scores is None or scores.empty:
        return []
    scores = scores[scores["score"].notna()]
    if niches is not None:
        scores = scores[scores["niche"].astype(str).isin(set(niches))]
    is_mine = scores[K.PATIENT].astype(str) == str(patient)
    reference = scores[~is_mine & (scores[K.OUTCOME].astype(str) == "remission")]
    keys = ["niche", K.TIMEPOINT, K.TISSUE]
    reference = reference.assign(**{k: reference[k].astype(str) for k in keys})
    limits = reference.groupby(keys).agg(maximum=("score", "max"),
                                         n=(K.PATIENT, "nunique"))
    above: dict[str, list[tuple[pd.Series, float]]] = {}
    for _, row in _post(scores[is_mine]).iterrows():
        key = tuple(str(row[k]) for k in keys)
        if key not in limits.index:
            continue
        limit = limits.loc[key]
        if limit["n"] >= min_reference and row["score"] > limit["maximum"]:
            above.setdefault(str(row["niche"]), []).append((row, float(limit["maximum"])))
    flags = []
    for niche, rows in above.items():
        parts = [f"{row[K.TIMEPOINT]} {row[K.TISSUE]}: {row['score']:.3g} > {limit:.3g}"
                 for row, limit in rows]
        flags.append(Flag(
            f"niche_relapse_range:{niche}",
            f"{niche} niche in the relapse range at "
            f"{', '.join(dict.fromkeys(str(row[K.TIMEPOINT]) for row, _ in rows))} "
            f"(score > remission maximum; {'; '.join(parts)})",
            "niches", tuple((str(row[K.SAMPLE]), str(row[K.TIMEPOINT])) for row, _ in rows),
            ", ".join(dict.fromkeys(f"{row[K.TIMEPOINT]} {row[K.TISSUE]}" for row, _ in rows))))
    return flags


def compute_flags(
    patient: str,
    *,
    samples: pd.DataFrame,
    clones: pd.DataFrame | None,
    niche_scores: pd.DataFrame | None,
    min_cells: int,
    flags: Mapping[str, float] | None = None,
) -> list[Flag]:
    """Every flag of one patient.

    Parameters
    ----------
    patient
        The patient.
    samples
        This patient's rows of :func:`repertoire.get.reconstitution` (may be empty).
    clones
        This patient's baseline clones (``clone_tracking(adata, "clones")``), or ``None``.
    niche_scores
        The cohort's niche scores, or ``None``.
    min_cells
        Fewest cells behind a fraction.
    flags
        Threshold overrides (names of :data:`FLAG_THRESHOLDS`).

    Returns
    -------
    The flags, in section order.
    """
    limits = thresholds(flags)
    return [
        *aplasia(samples),
        *memory_dominant(samples, min_cells=min_cells, ratio=limits["memory_over_naive"]),
        *returned_clones(clones, minimum=limits["min_returned_clones"]),
        *niche_relapse_range(niche_scores, patient,
                             min_reference=limits["niche_min_reference_patients"]),
    ]
