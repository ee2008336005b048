"""Named niche scores per sample: how much of a niche's signalling a sample holds, and why."""

from __future__ import annotations

import os
from collections.abc import Mapping

import numpy as np
import pandas as pd
from anndata import AnnData

from .. import _keys as K
from .._docs import doc_params
from .._errors import InputError
from .._logging import logger
from .._utils import batches, one_batch, require_obs, require_result, sample_metadata, store
from ..resources import niches as load_niches
from ..resources import subunits

SPECIFIC_P = 0.05  # a tested pair with p at most this is counted as specific to its groups


@doc_params
@one_batch("sample_key")
def niche_scores(
    adata: AnnData,
    *,
    niches: Mapping | str | os.PathLike | None = None,
    communication_key: str = K.COMMUNICATION,
    sample_key: str = K.SAMPLE,
    key_added: str = K.NICHE_SCORES,
    inplace: bool = True,
) -> pd.DataFrame | None:
    """Score every named niche in every sample, with the parts the score is made of.

    A niche (:func:`repertoire.resources.niches`) names sender cell types, receiver cell types
    and ligand-receptor interactions between them. In a sample of ``N`` cells, with senders
    making up the fraction ``f_S`` of its cells and receivers ``f_R``, interaction ``i`` has a
    ligand supply ``L_i``, the mean over the sample's sender cells of the ligand's expression,
    and a receptor supply ``R_i`` over its receiver cells (a complex is as expressed as its
    weakest subunit in each cell type, as in CellPhoneDB; the cell types of a side are weighed
    by their cells). Then

    ``expression = mean_i sqrt(L_i * R_i)``  and  ``score = sqrt(f_S * f_R) * expression``,

    the geometric mean of the ligand and receptor carried per cell of the sample (its cells with
    a ``groupby`` label; the means come from the ``groups`` table of
    :func:`repertoire.tl.communication`, so no expression matrix is read): it grows with
    more sender or receiver cells (``sender_fraction``, ``receiver_fraction``) and with more
    signalling per cell (``expression``), and those parts tell which; ``sender_expression``
    (``mean_i L_i``) and ``receiver_expression`` (``mean_i R_i``) split the signalling by side,
    so that the senders' signalling is read even where receivers are few. The score stays
    defined when the niche's cells are few or absent: a marrow sample holding two long-lived
    plasma cells scores low (the waning of plasma cells in remission is itself the biology), and
    one without any receiver scores 0, with ``expression`` NaN and the reason in
    ``expression_reason``. A sample cannot hold a niche, and gets no row, when the niche names
    tissues and the sample's is not among them (``plasma_survival`` is a marrow niche).
    Niches none of whose senders, or none of whose receivers, are labels of ``groupby`` in the
    data are left out with a log line.

    Beside the score, ``strength`` is the mean CellPhoneDB statistic (``mean`` of
    :func:`repertoire.tl.communication`) over the niche's sender-receiver pairs of cell types
    and interactions that were tested in the sample (both groups with at least ``min_cells``
    cells, both sides expressed in at least ``min_fraction`` of them): ``n_pairs_expressed``
    of ``n_pairs_scored``, ``n_pairs_specific`` of them with a within-sample specificity p of at
    most 0.05. ``strength`` is NaN, with its reason, when no pair was tested. None of these
    within-sample quantities compares outcomes: that is :func:`repertoire.tl.compare_outcomes`
    on this table, one value per patient.

    Parameters
    ----------
    {adata}
        After :func:`repertoire.tl.communication` with ``sample_key`` (its ``groupby`` is used
        here too).
    niches
        Niche definitions: ``None`` for the shipped ones, or a mapping or YAML file as described
        in :func:`repertoire.resources.niches`.
    communication_key
        Key of the communication results in ``.uns``.
    sample_key
        Column of ``.obs`` naming each cell's sample (the one communication was scored by).
        Absent from ``.obs`` (one sample on its own), all cells are one sample, ``"all"``.
    {key_added}
    {inplace}

    Returns
    -------
    With ``inplace=False``, the table; otherwise ``None`` and ``.uns[key_added]`` holds
    ``samples`` (the table) and ``params``. One row per sample and niche: ``sample_key``, the
    sample's ``patient_id``, ``timepoint``, ``day``, ``tissue``, ``outcome`` (where in
    ``.obs``), ``niche``, ``score``, ``sender_fraction``, ``receiver_fraction``,
    ``n_senders``, ``n_receivers``, ``expression``, ``expression_reason``,
    ``sender_expression``, ``receiver_expression``, ``strength``,
    ``strength_reason``, ``n_pairs_scored``, ``n_pairs_expressed``, ``n_pairs_specific``
    and ``n_interactions`` (the niche's interactions whose genes are all in the data).
    """
    params = require_result(adata, communication_key, K.PARAMS, "repertoire.tl.communication")
    pairs = require_result(adata, communication_key, K.TABLE_INTERACTIONS,
                           "repertoire.tl.communication")
    groups_table = require_result(adata, communication_key, K.TABLE_GROUPS,
                                  "repertoire.tl.communication")
    if params.get("sample_key") != sample_key:
        raise InputError(
            f"communication in .uns['{communication_key}'] was scored with sample_key "
            f"{params.get('sample_key')!r}; niche scores need it per '{sample_key}' "
            f"(run repertoire.tl.communication with sample_key='{sample_key}')."
        )
    groupby = params["groupby"]
    require_obs(adata, sample_key, groupby)
    definitions = load_niches(niches)
    labels = adata.obs[groupby].astype("category")
    samples = batches(adata.obs, sample_key)
    categories = [str(c) for c in labels.cat.categories]
    matched = _matched_niches(definitions, categories)
    supply = _Supply.from_groups(groups_table, categories,
                                 [str(s) for s in samples.cat.categories])

    metadata = sample_metadata(adata.obs, sample_key)
    tissue = metadata.set_index(sample_key).get(K.TISSUE)
    rows = []
    for name, niche in matched.items():
        interactions = supply.usable(name, niche)
        tested = _tested_pairs(pairs, niche, interactions)
        for number, sample in enumerate(samples.cat.categories):
            sample = str(sample)
            if niche["tissues"] and tissue is not None and tissue[sample] not in niche["tissues"]:
                continue
            rows.append({
                sample_key: sample, "niche": name,
                **supply.score(number, niche, interactions),
                **_strength(tested, groups_table, sample, niche, len(interactions), params),
            })
    table = pd.DataFrame(rows, columns=[sample_key, "niche", *_COLUMNS])
    table = metadata.merge(table, on=sample_key, how="right")
    table["niche"] = pd.Categorical(table["niche"], categories=list(matched))
    logger.info("niche scores: %d niches over %d samples (%d rows)", len(matched),
                len(samples.cat.categories), len(table))
    return store(
        adata, key_added, inplace=inplace, result=table, tables={K.TABLE_SAMPLES: table},
        params={"niches": {n: _recordable(d) for n, d in definitions.items()},
                "communication_key": communication_key, "sample_key": sample_key,
                "groupby": groupby, "specific_p": SPECIFIC_P},
    )


_COLUMNS = (
    "score", "sender_fraction", "receiver_fraction", "n_senders", "n_receivers", "expression",
    "expression_reason", "sender_expression", "receiver_expression", "strength",
    "strength_reason", "n_pairs_scored", "n_pairs_expressed", "n_pairs_specific",
    "n_interactions",
)


def _recordable(niche: dict) -> dict:
    return {**niche, "interactions": [list(pair) for pair in niche["interactions"]]}


def _matched_niches(definitions: dict, categories: list[str]) -> dict[str, dict]:
    """Niches with at least one sender and one receiver among the data's labels."""
    present = set(map(str, categories))
    matched = {}
    for name, niche in definitions.items():
        senders = [t for t in niche["senders"] if t in present]
        receivers = [t for t in niche["receivers"] if t in present]
        if not senders or not receivers:
            side = "senders" if not senders else "receivers"
            logger.warning("niche %s left out: none of its %s (%s) is a label of the data",
                           name, side, ", ".join(niche[side]))
            continue
        matched[name] = {**niche, "senders": senders, "receivers": receivers}
    return matched


class _Supply:
    """Per sample and cell type: cells, and the mean expression of every niche gene.

    Read from the ``groups`` table of :func:`repertoire.tl.communication`, which holds every
    group present in a sample (scored or not) with its mean of every resource gene, so that
    niches need no expression matrix.
    """

    def __init__(self, sizes: np.ndarray, totals: np.ndarray, means: np.ndarray,
                 genes: dict[str, int], categories: list[str]) -> None:
        self.sizes = sizes  # samples x groups
        self.totals = totals  # labelled cells per sample
        self.means = means  # samples x groups x genes
        self.genes = genes  # upper-cased symbol -> index into the last axis of means
        self.position = {c: i for i, c in enumerate(categories)}

    @classmethod
    def from_groups(cls, groups: pd.DataFrame, categories: list[str],
                    samples: list[str]) -> _Supply:
        genes = [c for c in groups.columns if c not in ("group", "n_cells", "scored", K.SAMPLE)]
        sample_of = {s: i for i, s in enumerate(samples)}
        group_of = {c: i for i, c in enumerate(categories)}
        rows = groups[K.SAMPLE].astype(str).map(sample_of).to_numpy() if K.SAMPLE in groups \
            else np.zeros(len(groups), dtype=np.int64)
        columns = groups["group"].astype(str).map(group_of).to_numpy()
        sizes = np.zeros((len(samples), len(categories)))
        sizes[rows, columns] = groups["n_cells"].to_numpy(dtype=float)
        means = np.full((len(samples), len(categories), len(genes)), np.nan)
        means[rows, columns] = groups[genes].to_numpy(dtype=float)
        return cls(sizes, sizes.sum(axis=1), means, {g: i for i, g in enumerate(genes)},
                   categories)

    def usable(self, name: str, niche: dict) -> list[tuple[str, str]]:
        """Return the niche's interactions whose every subunit is in the data."""
        usable = [pair for pair in niche["interactions"]
                  if all(g in self.genes for side in pair for g in subunits(side))]
        if len(usable) < len(niche["interactions"]):
            lacking = sorted({g for pair in niche["interactions"] for side in pair
                              for g in subunits(side) if g not in self.genes})
            logger.warning("niche %s: %d of %d interactions lack genes of the communication "
                           "resource in the data (%s)", name,
                           len(niche["interactions"]) - len(usable),
                           len(niche["interactions"]), ", ".join(lacking))
        return usable

    def _side(self, sample: int, types: list[str], entities: list[str]) -> tuple:
        """Cells of ``types`` in the sample, and each entity's supply over them."""
        columns = [self.position[t] for t in types]
        cells = self.sizes[sample, columns]
        if cells.sum() == 0:
            return 0.0, np.full(len(entities), np.nan)
        per_type = np.stack([
            self.means[sample][columns][:, [self.genes[g] for g in subunits(e)]].min(axis=1)
            for e in entities
        ], axis=1) if entities else np.zeros((len(columns), 0))
        weights = cells / cells.sum()
        return float(cells.sum()), np.nansum(per_type * weights[:, None], axis=0)

    def score(self, sample: int, niche: dict, interactions: list[tuple[str, str]]) -> dict:
        total = self.totals[sample]
        n_senders, ligand = self._side(sample, niche["senders"], [p[0] for p in interactions])
        n_receivers, receptor = self._side(sample, niche["receivers"],
                                           [p[1] for p in interactions])
        fractions = (n_senders / total if total else np.nan,
                     n_receivers / total if total else np.nan)
        if not interactions:
            expression, reason = np.nan, "no interaction with all its genes in the data"
        elif not n_senders or not n_receivers:
            expression = np.nan
            side = " or ".join(name for name, n in (("sender", n_senders),
                                                   ("receiver", n_receivers)) if not n)
            reason = f"no {side} cell in the sample"
        else:
            expression, reason = float(np.mean(np.sqrt(ligand * receptor))), ""
        if n_senders and n_receivers:
            score = float(np.sqrt(fractions[0] * fractions[1]) * expression)
        else:
            score = 0.0 if total else np.nan
        with np.errstate(all="ignore"):
            sender = float(np.mean(ligand)) if interactions and n_senders else np.nan
            receiver = float(np.mean(receptor)) if interactions and n_receivers else np.nan
        return {"score": score, "sender_fraction": fractions[0],
                "receiver_fraction": fractions[1], "n_senders": int(n_senders),
                "n_receivers": int(n_receivers), "expression": expression,
                "expression_reason": reason, "sender_expression": sender,
                "receiver_expression": receiver}


def _tested_pairs(pairs: pd.DataFrame, niche: dict,
                  interactions: list[tuple[str, str]]) -> pd.DataFrame:
    """Rows of the communication table within the niche that were tested."""
    ligand = pairs["ligand"].astype(str).str.upper()
    receptor = pairs["receptor"].astype(str).str.upper()
    wanted = pd.MultiIndex.from_tuples(interactions, names=["ligand", "receptor"]) \
        if interactions else None
    keep = (pairs["source"].astype(str).isin(niche["senders"])
            & pairs["target"].astype(str).isin(niche["receivers"])
            & pairs["tested"].astype(bool))
    if wanted is None:
        keep &= False
    else:
        keep &= pd.MultiIndex.from_arrays([ligand, receptor]).isin(wanted)
    return pairs.loc[keep.to_numpy()]


def _strength(tested: pd.DataFrame, groups: pd.DataFrame, sample: str, niche: dict,
              n_interactions: int, params: Mapping) -> dict:
    mine = tested[tested[K.SAMPLE].astype(str) == sample] if K.SAMPLE in tested else tested
    sample_groups = groups[groups[K.SAMPLE].astype(str) == sample] if K.SAMPLE in groups \
        else groups
    scored = set(sample_groups.loc[sample_groups["scored"].astype(bool), "group"].astype(str))
    senders = [t for t in niche["senders"] if t in scored]
    receivers = [t for t in niche["receivers"] if t in scored]
    n_scored = len(senders) * len(receivers) * n_interactions
    if not len(mine):
        if not senders or not receivers:
            side = " or ".join(name for name, kept in (("sender", senders),
                                                      ("receiver", receivers)) if not kept)
            reason = f"no {side} cell type with at least {params['min_cells']} cells"
        else:
            reason = (f"no pair expressed in at least {params['min_fraction']:.0%} of the cells "
                      "on both sides")
        strength = np.nan
    else:
        strength, reason = float(mine["mean"].mean()), ""
    return {"strength": strength, "strength_reason": reason, "n_pairs_scored": n_scored,
            "n_pairs_expressed": len(mine),
            "n_pairs_specific": int((mine["pvalue"] <= SPECIFIC_P).sum()),
            "n_interactions": n_interactions}
