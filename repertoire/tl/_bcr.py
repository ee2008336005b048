"""B-cell receptor state per cell: isotype, somatic hypermutation and naive/memory/plasma."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
from anndata import AnnData

from .. import _keys as K
from .._docs import doc_params
from .._errors import InputError
from .._logging import logger
from .._utils import store
from ._labels import has_transcriptome_calls, transcriptome_calls
from ._receptor import primary_heavy_chains, primary_light_chains, require_airr
from ._shm import FIELDS, LEADER_LENGTH, SEQUENCE, SOURCES, chain_shm

# Klein, Rajewsky and Küppers, J Exp Med 1998: naive (IgM+IgD+CD27-) B cells carry unmutated
# V genes, memory B cells (switched, or IgM/IgD with CD27) mutated ones; 1% of the V region
# separates them (BIOLOGY.md: naive below 1%, memory from 1-2%).
NAIVE_MAX_SHM = 0.01
MEMORY_MIN_SHM = 0.01
SWITCHED = re.compile(r"^IGH[GAE]")
EVIDENCE = (
    "transcriptome", "isotype", "isotype+shm", "isotype+transcriptome", "shm",
)


@doc_params
def bcr_state(
    adata: AnnData,
    *,
    naive_max_shm: float = NAIVE_MAX_SHM,
    memory_min_shm: float = MEMORY_MIN_SHM,
    germline_key: str = "germline_alignment",
    leader_length: int = LEADER_LENGTH,
    key_added: str = K.BCR_STATE,
    inplace: bool = True,
) -> pd.DataFrame | None:
    """Call each B cell's isotype, V-region mutation and state from its receptor.

    **Chains.** The cell's primary heavy chain is the first IGH chain among scirpy's primary
    and secondary VDJ chains (:func:`scirpy.pp.index_chains`: productive chains with a junction,
    ordered by UMI count; chain indices in ``.obsm["chain_indices"]`` are reused); its primary
    light chain the first IGK or IGL chain among the VJ chains.

    **Isotype** is the heavy chain's AIRR ``c_call`` with the allele and any further ambiguous
    calls removed (``IGHG1*01`` and ``IGHG1*01,IGHG3*01`` give ``IGHG1``), NaN without a heavy
    chain or a constant call (Cell Ranger writes ``None`` when it could not assign one).

    **SHM rate** is the V-region mutation frequency of each chain, from the first source its
    record allows (``shm_source``):

    - ``alignment``: IMGT-gapped ``sequence_alignment`` and germline (IgBLAST or Change-O with
      the IMGT reference, Dandelion) go through scirpy's :func:`scirpy.tl.mutational_load`,
      region ``v``: mismatches in IMGT positions 1-312, ignoring gaps and ``N``, over 312;
    - ``alignment_ungapped``: ungapped alignments of equal length (IgBLAST ``-outfmt 19``
      without IMGT gaps, TRUST4): mismatches from FR1 codon 1 through the Cys 104 codon over
      the informative positions (shazam's ``observedMutations`` frequency). scirpy's window of
      312 positions would run into CDR3 and J on these;
    - ``cellranger_germline``: Cell Ranger's ``airr_rearrangement.tsv``, whose alignment is the
      contig and whose germline the clonotype consensus's reference segments end to end: the
      contig's V (``v_sequence_start``-``v_sequence_end``, walked along ``v_cigar``) is placed
      on the germline at its best ungapped offset, ``leader_length`` leader nucleotides are
      skipped, and mismatches are counted through the Cys 104 codon over the positions
      compared. A contig whose V matches the germline with identity below 0.7 gets NaN (the
      germline belongs to the clonotype, not to every contig);
    - ``v_identity``: ``1 - v_identity``, where ``v_identity`` above 1 is read as a percentage
      (IgBLAST and some Cell Ranger versions write 0-100).

    Otherwise the rate is NaN, and ``.uns[key_added]["shm"]`` says why: Cell Ranger's
    ``filtered_contig_annotations.csv`` holds no sequences, so SHM needs its
    ``airr_rearrangement.tsv``.

    **State**, in this order (the first rule that applies decides; the evidence is recorded):

    1. a cell the transcriptome puts outside the B lineage (``.obs["lineage"]`` not ``B`` or
       ``plasma``) gets none;
    2. plasma cell types (``plasmablast``, ``plasma_LLPC``) are ``plasma`` and ``B_DN`` is
       ``DN``: these are phenotypes (DN cells may be switched or not, mutated or not), so the
       transcriptome decides (``transcriptome``);
    3. a switched heavy chain (IGHG, IGHA, IGHE) is ``memory_switched`` (``isotype``);
    4. IGHM or IGHD with heavy-chain SHM below ``naive_max_shm`` is ``naive_transitional``,
       with SHM of at least ``memory_min_shm`` ``memory_unswitched`` (``isotype+shm``);
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
        AIRR field holding the germline (``germline_alignment_d_mask`` gives the same V
        region).
    leader_length
        Nucleotides of Cell Ranger's leader-and-V feature skipped before FR1 (human leaders are
        51-66 nt; 57, 19 codons, is the most common length).
    {key_added}
        ``.obs[key_added]`` holds the state, ``.obs[f"{{key_added}}_evidence"]`` the evidence.
    {inplace}

    Returns
    -------
    With ``inplace=False``, a table indexed like ``.obs`` with columns ``isotype``,
    ``shm_rate``, ``shm_source`` (a source above or NaN), ``shm_rate_light``,
    ``shm_source_light`` (the same for the light chain), ``bcr_state`` and
    ``bcr_state_evidence`` (categoricals, named after ``key_added``). Otherwise ``None``; the
    columns go to ``.obs`` and ``.uns[key_added]`` holds ``states`` (cells per state and
    evidence), ``shm`` (chains per ``chain`` (heavy, light) and ``shm_source``, with the
    ``note`` saying why chains without a source have none) and ``params``.
    """
    require_airr(adata)
    if not 0 <= naive_max_shm <= memory_min_shm <= 1:
        raise InputError(
            f"thresholds must satisfy 0 <= naive_max_shm ({naive_max_shm}) <= memory_min_shm "
            f"({memory_min_shm}) <= 1."
        )
    fields = [SEQUENCE, germline_key, *FIELDS]
    heavy = primary_heavy_chains(adata, ["c_call", *fields])
    light = primary_light_chains(adata, fields)
    isotype = normalise_isotype(heavy["c_call"])
    shm = {
        name: chain_shm(chains[chains["chain"].notna()], germline_key,
                        leader_length=leader_length).reindex(adata.obs_names)
        for name, chains in (("heavy", heavy), ("light", light))
    }
    state, evidence = _decide(
        adata.obs, isotype, shm["heavy"][K.SHM_RATE].to_numpy(dtype=float),
        naive_max_shm=naive_max_shm, memory_min_shm=memory_min_shm,
    )
    evidence_key = f"{key_added}_evidence"
    categories = sorted(set(isotype.dropna()) - set(K.ISOTYPES))
    table = pd.DataFrame({
        K.ISOTYPE: pd.Categorical(isotype, categories=[*K.ISOTYPES, *categories]),
        K.SHM_RATE: shm["heavy"][K.SHM_RATE].to_numpy(dtype=float),
        K.SHM_SOURCE: pd.Categorical(shm["heavy"][K.SHM_SOURCE], categories=SOURCES),
        K.SHM_RATE_LIGHT: shm["light"][K.SHM_RATE].to_numpy(dtype=float),
        K.SHM_SOURCE_LIGHT: pd.Categorical(shm["light"][K.SHM_SOURCE], categories=SOURCES),
        key_added: pd.Categorical(state, categories=K.BCR_STATES),
        evidence_key: pd.Categorical(evidence, categories=EVIDENCE),
    }, index=adata.obs_names)
    summary = (
        table.groupby([key_added, evidence_key], observed=True).size().rename("n_cells")
        .reset_index().astype({key_added: str, evidence_key: str})
    )
    sources = _shm_sources(shm)
    logger.info(
        "BCR state: %d cells with a heavy chain (%d with SHM), %d with a state",
        int(heavy["chain"].notna().sum()), int(table[K.SHM_RATE].notna().sum()),
        int(table[key_added].notna().sum()),
    )
    return store(
        adata, key_added, inplace=inplace, result=table, obs=table,
        tables={K.TABLE_STATES: summary, K.TABLE_SHM: sources},
        params={"naive_max_shm": naive_max_shm, "memory_min_shm": memory_min_shm,
                "germline_key": germline_key, "leader_length": leader_length,
                "transcriptome": has_transcriptome_calls(adata.obs)},
    )


def _shm_sources(shm: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Chains per chain type and SHM source; each reason for a missing rate logged once."""
    rows = []
    for chain, table in shm.items():
        present = table[table[K.SHM_SOURCE].notna() | table["note"].notna()]
        counts = (
            present.fillna({K.SHM_SOURCE: "none", "note": ""})
            .groupby([K.SHM_SOURCE, "note"]).size()
        )
        rows += [{"chain": chain, K.SHM_SOURCE: source, "n_chains": int(n), "note": note}
                 for (source, note), n in counts.items()]
    table = pd.DataFrame(rows, columns=["chain", K.SHM_SOURCE, "n_chains", "note"])
    for note, chains in table[table["note"] != ""].groupby("note", sort=False):
        counts = " and ".join(f"{n} {c}" for c, n in zip(chains["chain"], chains["n_chains"],
                                                          strict=True))
        logger.warning("%s chains have no SHM: %s", counts, note)
    return table


def normalise_isotype(c_call: pd.Series) -> pd.Series:
    """Heavy-chain constant genes without alleles: ``IGHG1*01`` -> ``IGHG1``; others NaN."""
    calls = c_call[c_call.notna()].astype(str)
    gene = calls.str.split(",").str[0].str.split("*").str[0].str.strip().str.upper()
    gene = gene[gene.str.match(r"^IGH[MDGAE]")]
    return gene.reindex(c_call.index).astype(object)


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
