"""B-cell receptor state per cell: isotype, somatic hypermutation and naive/memory/plasma."""

from __future__ import annotations

import re
import warnings

import awkward as ak
import numpy as np
import pandas as pd
from anndata import AnnData

from .. import _keys as K
from .._docs import doc_params
from .._errors import InputError
from .._logging import logger
from .._utils import store
from ._labels import has_transcriptome_calls, transcriptome_calls
from ._receptor import primary_heavy_chains, require_airr

# Klein, Rajewsky and Küppers, J Exp Med 1998: naive (IgM+IgD+CD27-) B cells carry unmutated
# V genes, memory B cells (switched, or IgM/IgD with CD27) mutated ones; 1% of the V region
# separates them (BIOLOGY.md: naive below 1%, memory from 1-2%).
NAIVE_MAX_SHM = 0.01
MEMORY_MIN_SHM = 0.01
SWITCHED = re.compile(r"^IGH[GAE]")
SEQUENCE = "sequence_alignment"
EVIDENCE = (
    "transcriptome", "isotype", "isotype+shm", "isotype+transcriptome", "shm",
)
SHM_SOURCES = ("alignment", "v_identity")


@doc_params
def bcr_state(
    adata: AnnData,
    *,
    naive_max_shm: float = NAIVE_MAX_SHM,
    memory_min_shm: float = MEMORY_MIN_SHM,
    germline_key: str = "germline_alignment",
    key_added: str = K.BCR_STATE,
    inplace: bool = True,
) -> pd.DataFrame | None:
    """Call each B cell's isotype, V-region mutation and state from its receptor.

    **Heavy chain.** The cell's primary heavy chain is the first IGH chain among scirpy's
    primary and secondary VDJ chains (:func:`scirpy.pp.index_chains`: productive chains with a
    junction, ordered by UMI count; chain indices in ``.obsm["chain_indices"]`` are reused).

    **Isotype** is its AIRR ``c_call`` with the allele and any further ambiguous calls removed
    (``IGHG1*01`` and ``IGHG1*01,IGHG3*01`` give ``IGHG1``), NaN without a heavy chain or a
    constant call (Cell Ranger writes ``None`` when it could not assign one).

    **SHM rate** is the V-region mutation frequency of scirpy's :func:`scirpy.tl.mutational_load`
    for region ``v``: mismatches between the IMGT-gapped ``sequence_alignment`` and the
    germline in IMGT positions 1-312, ignoring IMGT gaps and ``N``, divided by 312. scirpy
    itself computes it, on the heavy chains whose alignments are IMGT-gapped (same length, with
    ``.`` gaps; IgBLAST or Change-O with the IMGT reference, Dandelion). Other heavy chains fall
    back to ``1 - v_identity``, where ``v_identity`` above 1 is read as a percentage (IgBLAST
    and some Cell Ranger versions write 0-100; an identity of 1% or less cannot occur), and are
    NaN without it. Cell Ranger's own alignments are not IMGT-gapped and its tables carry no
    identity, so its SHM is NaN.

    **State**, in this order (the first rule that applies decides; the evidence is recorded):

    1. a cell the transcriptome puts outside the B lineage (``.obs["lineage"]`` not ``B`` or
       ``plasma``) gets none;
    2. plasma cell types (``plasmablast``, ``plasma_LLPC``) are ``plasma`` and ``B_DN`` is
       ``DN``: these are phenotypes (DN cells may be switched or not, mutated or not), so the
       transcriptome decides (``transcriptome``);
    3. a switched heavy chain (IGHG, IGHA, IGHE) is ``memory_switched`` (``isotype``);
    4. IGHM or IGHD with SHM below ``naive_max_shm`` is ``naive_transitional``, with SHM of at
       least ``memory_min_shm`` ``memory_unswitched`` (``isotype+shm``);
    5. IGHM or IGHD without a usable SHM (or between the two thresholds) takes naive or memory
       from the transcriptome (``isotype+transcriptome``);
    6. without an isotype (no heavy chain, or no constant call) the transcriptome's state
       (``transcriptome``), or, for receptor-only data, ``naive_transitional`` when the SHM is
       below ``naive_max_shm`` (``shm``);
    7. otherwise no state (NaN).

    Without ``.obs["lineage"]`` and ``.obs["cell_type"]`` (receptor-only data from
    :func:`repertoire.io.read_vdj`) rules 1, 2, 5 and 6 have nothing to use: every cell with
    an isotype is called from its receptor and ``DN`` and ``plasma`` do not occur.

    Parameters
    ----------
    {adata}
        Or a receptor-only AnnData from :func:`repertoire.io.read_vdj`.
    naive_max_shm
        IGHM/IGHD cells mutated less than this are naive (default 1%, Klein, Rajewsky and
        Küppers, J Exp Med 1998).
    memory_min_shm
        IGHM/IGHD cells mutated at least this much are unswitched memory; must be at least
        ``naive_max_shm``. Raise it to 0.02 to leave 1-2% to the transcriptome.
    germline_key
        AIRR field holding the IMGT-gapped germline (``germline_alignment_d_mask`` gives the
        same V region).
    {key_added}
        ``.obs[key_added]`` holds the state, ``.obs[f"{{key_added}}_evidence"]`` the evidence.
    {inplace}

    Returns
    -------
    With ``inplace=False``, a table indexed like ``.obs`` with columns ``isotype``,
    ``shm_rate``, ``shm_source`` (``alignment``, ``v_identity`` or NaN), ``bcr_state`` and
    ``bcr_state_evidence`` (categoricals, named after ``key_added``). Otherwise ``None``; the
    columns go to ``.obs`` and ``.uns[key_added]`` holds ``states`` (cells per state and
    evidence) and ``params``.
    """
    require_airr(adata)
    if not 0 <= naive_max_shm <= memory_min_shm <= 1:
        raise InputError(
            f"thresholds must satisfy 0 <= naive_max_shm ({naive_max_shm}) <= memory_min_shm "
            f"({memory_min_shm}) <= 1."
        )
    heavy = primary_heavy_chains(adata, ["c_call", "v_identity", SEQUENCE, germline_key,
                                         "junction"])
    isotype = normalise_isotype(heavy["c_call"])
    shm, source = shm_rate(heavy, germline_key)
    state, evidence = _decide(
        adata.obs, isotype, shm, naive_max_shm=naive_max_shm, memory_min_shm=memory_min_shm,
    )
    evidence_key = f"{key_added}_evidence"
    categories = sorted(set(isotype.dropna()) - set(K.ISOTYPES))
    table = pd.DataFrame({
        K.ISOTYPE: pd.Categorical(isotype, categories=[*K.ISOTYPES, *categories]),
        K.SHM_RATE: shm,
        K.SHM_SOURCE: pd.Categorical(source, categories=SHM_SOURCES),
        key_added: pd.Categorical(state, categories=K.BCR_STATES),
        evidence_key: pd.Categorical(evidence, categories=EVIDENCE),
    }, index=adata.obs_names)
    summary = (
        table.groupby([key_added, evidence_key], observed=True).size().rename("n_cells")
        .reset_index().astype({key_added: str, evidence_key: str})
    )
    logger.info(
        "BCR state: %d cells with a heavy chain (%d with SHM), %d with a state",
        int(heavy["chain"].notna().sum()), int(np.isfinite(shm).sum()),
        int(table[key_added].notna().sum()),
    )
    return store(
        adata, key_added, inplace=inplace, result=table, obs=table,
        tables={K.TABLE_STATES: summary},
        params={"naive_max_shm": naive_max_shm, "memory_min_shm": memory_min_shm,
                "germline_key": germline_key,
                "transcriptome": has_transcriptome_calls(adata.obs)},
    )


def normalise_isotype(c_call: pd.Series) -> pd.Series:
    """Heavy-chain constant genes without alleles: ``IGHG1*01`` -> ``IGHG1``; others NaN."""
    calls = c_call[c_call.notna()].astype(str)
    gene = calls.str.split(",").str[0].str.split("*").str[0].str.strip().str.upper()
    gene = gene[gene.str.match(r"^IGH[MDGAE]")]
    return gene.reindex(c_call.index).astype(object)


def shm_rate(heavy: pd.DataFrame, germline_key: str) -> tuple[np.ndarray, np.ndarray]:
    """V-region mutation frequency of each heavy chain and where it came from.

    IMGT-gapped alignments go through :func:`scirpy.tl.mutational_load` (region ``v``); other
    chains use ``1 - v_identity`` (percentages detected per value); the rest are NaN.
    """
    n = len(heavy)
    rate = np.full(n, np.nan)
    source = np.full(n, None, dtype=object)
    sequence, germline = heavy[SEQUENCE], heavy[germline_key]
    aligned = sequence.notna() & germline.notna()
    gapped = aligned & _imgt_gapped(sequence, germline)
    if gapped.any():
        rows = np.flatnonzero(gapped.to_numpy())
        rate[rows] = _v_mutation_frequency(
            sequence.iloc[rows], germline.iloc[rows], heavy["junction"].iloc[rows]
        )
        source[rows[np.isfinite(rate[rows])]] = "alignment"
    if (aligned & ~gapped).any():
        logger.warning(
            "%d heavy chains have alignments without IMGT gaps (as Cell Ranger writes them); "
            "their SHM comes from v_identity where present. IMGT-gapped alignments (IgBLAST or "
            "Change-O with the IMGT reference, Dandelion) give the IMGT V-region rate.",
            int((aligned & ~gapped).sum()),
        )
    identity = pd.to_numeric(heavy["v_identity"], errors="coerce").to_numpy(dtype=float)
    identity = np.where(identity > 1, identity / 100, identity)
    identity = np.where((identity >= 0) & (identity <= 1), identity, np.nan)
    fallback = ~np.isfinite(rate) & np.isfinite(identity)
    rate[fallback] = 1 - identity[fallback]
    source[fallback] = "v_identity"
    return rate, source


def _imgt_gapped(sequence: pd.Series, germline: pd.Series) -> pd.Series:
    """Alignments of equal length with IMGT gap characters in the V region."""
    same_length = sequence.str.len() == germline.str.len()
    gaps = sequence.str[:312].str.contains(".", regex=False) | germline.str[:312].str.contains(
        ".", regex=False
    )
    return (same_length & gaps).fillna(False).astype(bool)


def _v_mutation_frequency(
    sequence: pd.Series, germline: pd.Series, junction: pd.Series
) -> np.ndarray:
    """Scirpy's ``v_mutation_freq`` of one chain per cell."""
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


def _decide(
    obs: pd.DataFrame, isotype: pd.Series, shm: np.ndarray, *, naive_max_shm: float,
    memory_min_shm: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Each cell's state and the evidence that decided it (rules of :func:`bcr_state`)."""
    tx = transcriptome_calls(obs)
    t_state = tx["state"].to_numpy(dtype=object)
    outside = (tx["lineage"].notna() & ~tx["lineage"].isin(K.B_LINEAGES)).to_numpy()
    switched = isotype.fillna("").str.match(SWITCHED).to_numpy()
    unswitched = isotype.isin(K.UNSWITCHED_ISOTYPES).to_numpy()
    no_isotype = ~switched & ~unswitched
    with np.errstate(invalid="ignore"):
        low, high = shm < naive_max_shm, shm >= memory_min_shm
    t_known = pd.notna(t_state)
    t_memory = np.isin(t_state, ("memory_unswitched", "memory_switched"))
    rules = [
        (outside, None, None),
        (t_state == "plasma", "plasma", "transcriptome"),
        (t_state == "DN", "DN", "transcriptome"),
        (switched, "memory_switched", "isotype"),
        (unswitched & low, "naive_transitional", "isotype+shm"),
        (unswitched & high, "memory_unswitched", "isotype+shm"),
        (unswitched & t_memory, "memory_unswitched", "isotype+transcriptome"),
        (unswitched & (t_state == "naive_transitional"), "naive_transitional",
         "isotype+transcriptome"),
        (no_isotype & t_known, t_state, "transcriptome"),
        (no_isotype & low, "naive_transitional", "shm"),
    ]
    state = np.select([r[0] for r in rules], [_full(r[1], obs) for r in rules], None)
    evidence = np.select([r[0] for r in rules], [_full(r[2], obs) for r in rules], None)
    return state, evidence


def _full(value: object, obs: pd.DataFrame) -> np.ndarray:
    if isinstance(value, np.ndarray):
        return value
    return np.full(len(obs), value, dtype=object)
