"""Cell-cell communication: CellPhoneDB's ligand-receptor permutation test, per sample."""

from __future__ import annotations

import os
import zlib
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
import scipy.sparse as sp
from anndata import AnnData

from .. import _keys as K
from .._docs import doc_params
from .._errors import InputError
from .._logging import logger, progress
from .._utils import batches, gene_index, require_layer, require_obs, store
from ..resources import interactions as load_interactions
from ..resources import subunits
from . import _lr_kernels as kernels

COMPLEX_POLICIES = ("min", "min_overall")
ROWS = ("tested", "expressed", "all")
# labels of one block of permutations take at most this many bytes (one byte per cell and
# permutation), which bounds memory whatever the sample size
LABEL_BYTES = 1 << 26
LISTED_GENES = 20  # missing genes named in the log line


@doc_params
def communication(
    adata: AnnData,
    groupby: str = K.CELL_TYPE,
    *,
    sample_key: str | None = None,
    resource: pd.DataFrame | str | os.PathLike | None = None,
    layer: str | None = None,
    gene_symbols: str | None = None,
    n_perms: int = 1000,
    min_fraction: float = 0.1,
    min_cells: int = 10,
    complex_policy: Literal["min", "min_overall"] = "min",
    rows: Literal["tested", "expressed", "all"] = "tested",
    seed: int = 0,
    n_jobs: int = 1,
    key_added: str = K.COMMUNICATION,
    inplace: bool = True,
) -> pd.DataFrame | None:
    """Score ligand-receptor interactions between groups of cells, one sample at a time.

    The statistic and test of CellPhoneDB (Efremova et al., Nat Protoc 2020), as
    :func:`squidpy.gr.ligrec` computes them. For every sender group (``source``), receiver group
    (``target``) and interaction, ``mean`` is the mean of the ligand's mean expression in the
    sender and the receptor's mean in the receiver, and 0 where either is 0. A complex (subunits
    joined by ``_``, such as ``IL6R_IL6ST``) is as expressed as its weakest subunit. A pair is
    tested only where the ligand in the sender and the receptor in the receiver both have a mean
    above 0 and are expressed (above 0) in at least ``min_fraction`` of their group's cells.
    ``pvalue`` is the share of ``n_perms`` random permutations of the group labels among the
    sample's cells in which the statistic computed from the permuted groups is strictly greater
    than the observed one (squidpy's count; 0 means below ``1 / n_perms``).

    These p-values say how SPECIFIC an interaction is to its two groups WITHIN ONE SAMPLE,
    relative to the other groups of the same sample. They are not a test between samples or
    patients and must never be used to compare outcomes (remission against relapse): cells are
    pseudo-replicates and the patient is the unit (Squair et al., Nat Commun 2021). Outcome
    statistics are made later from per-sample scores of this table.

    With ``sample_key``, each sample is scored on its own cells in one call: its labels are
    permuted within it, its groups with fewer than ``min_cells`` cells are not scored (their
    cells keep their labels in the permutations, as squidpy keeps every cluster) and a sample
    without any group of ``min_cells`` cells contributes no row and a log line. Early samples
    after CAR-T infusion have no B cells at all: their B-cell rows are simply absent. Every
    sample draws its permutations from a generator seeded by ``seed`` and the sample's name, so
    a sample scored alone or among others gives the same table. Cells without a group label are
    left out, as squidpy leaves them out.

    Interactions whose genes (any subunit) are not in the data are dropped with one warning
    naming the genes. The permuted group means of a batch of permutations come from one
    scatter-add over the non-zero entries of the resource's genes (sparse input stays sparse;
    memory grows with the resource's genes and is bounded per block of permutations).

    Differences from :func:`squidpy.gr.ligrec` (whose numbers are otherwise reproduced: means
    equal, p-values within Monte-Carlo error): squidpy's ``complex_policy="min"`` picks ONE
    subunit per complex, the one with the lowest mean over all cells, and uses it in every
    group; here ``"min"`` takes the weakest subunit in each group and in each permutation, as
    CellPhoneDB does (its mean and its expressing fraction are both the lowest of the
    subunits'); ``"min_overall"`` reproduces squidpy's choice (over the sample's labelled cells).
    squidpy keeps a complex whose subunits are only partly measured; here an interaction needs
    every subunit. squidpy merges interactions whose complexes resolve to the same genes; here
    every interaction keeps its row.

    Parameters
    ----------
    {adata}
    groupby
        Column of ``.obs`` with the groups (cell types) whose pairs are scored.
    sample_key
        Column of ``.obs`` naming each cell's sample; each sample is scored on its own cells.
        ``None`` scores all cells as one sample.
    resource
        Interactions to score: ``None`` for the curated table of
        :func:`repertoire.resources.interactions`, or anything that function accepts (a
        DataFrame with ``ligand`` and ``receptor`` columns, a path, ``"liana:consensus"``).
    layer
        Layer to read expression from; ``None`` uses ``.X``. Log-normalised expression, as
        CellPhoneDB and squidpy expect.
    gene_symbols
        Column of ``.var`` holding gene symbols (for Ensembl ``var_names``); symbols match
        case-insensitively.
    n_perms
        Permutations of the group labels per sample; 0 computes means and fractions only.
    min_fraction
        Smallest fraction of a group's cells expressing the ligand (in the sender) and the
        receptor (in the receiver) for a pair to be tested (squidpy's ``threshold``).
    min_cells
        Smallest number of cells of a group in a sample for the group to be scored there.
    complex_policy
        ``"min"``: a complex's mean and expressing fraction in a group are the lowest of its
        subunits' in that group (CellPhoneDB). ``"min_overall"``: the complex is the one subunit
        with the lowest mean over the sample's cells (squidpy).
    rows
        Which pairs of scored groups get a row: ``"tested"`` (both sides pass
        ``min_fraction``), ``"expressed"`` (both means above 0, squidpy's non-zero means;
        ``pvalue`` is NaN where untested) or ``"all"`` (every interaction between every two
        scored groups; ``mean`` 0 where a side is not expressed). The default keeps the table
        to what CellPhoneDB tests, which bounds it for large resources: liana's 4,600
        interactions between 12 groups in 60 samples would be 40 million rows with ``"all"``.
        Groups absent from a sample, or smaller than ``min_cells``, never get rows; the
        ``groups`` table tells them apart from interactions that are not expressed.
    seed
        Seed of the permutations; the same seed gives the same table.
    n_jobs
        Threads of the numeric kernels (``-1``: all that numba may use).
    {key_added}
    {inplace}

    Returns
    -------
    With ``inplace=False``, the interaction table; otherwise ``None``, and
    ``.uns[key_added]`` holds ``interactions`` (that table), ``groups`` (one row per sample and
    group present: ``n_cells``, whether it was ``scored``, and the group's mean expression of
    every resource gene, one column per upper-cased symbol) and ``params`` (every argument,
    the seed included). The interaction table has one row per sample (``sample_id``, with
    ``sample_key``), sender group (``source``), receiver group (``target``) and interaction
    (``interaction``, ``ligand``, ``receptor``, ``axis``), with ``ligand_mean``,
    ``receptor_mean``, ``ligand_fraction``, ``receptor_fraction`` (expressing fractions),
    ``n_source``, ``n_target`` (cells of the groups), ``mean`` (the statistic), ``pvalue``
    (specificity of the pair within its sample; NaN where not tested or ``n_perms`` is 0) and
    ``tested`` (both sides expressed in at least ``min_fraction`` of their cells).
    """
    require_obs(adata, groupby)
    require_layer(adata, layer)
    n_perms, min_cells, seed, n_jobs = _check_arguments(
        n_perms, min_fraction, min_cells, complex_policy, rows, seed, n_jobs
    )
    table = load_interactions(resource)
    design = _design(adata, table, gene_symbols)
    labels = adata.obs[groupby]
    if not isinstance(labels.dtype, pd.CategoricalDtype):
        labels = labels.astype("category")
    samples = batches(adata.obs, sample_key)
    matrix = _resource_matrix(adata, layer, design.genes)

    settings = _Settings(n_perms, min_fraction, min_cells, complex_policy, rows, seed,
                         per_sample_seed=sample_key is not None)
    blocks, group_rows = [], []
    codes = labels.cat.codes.to_numpy()
    labelled = np.flatnonzero(codes >= 0)  # cells without a group are left out, as in squidpy
    sample_codes = samples.cat.codes.to_numpy()[labelled]
    order = labelled[np.argsort(sample_codes, kind="stable")]
    bounds = np.searchsorted(np.sort(sample_codes), np.arange(len(samples.cat.categories) + 1))
    with _threads(n_jobs):
        for number, sample in enumerate(progress(samples.cat.categories, desc="communication")):
            cells = order[bounds[number]:bounds[number + 1]]
            block, groups = _score_sample(matrix, cells, codes[cells], labels.cat.categories,
                                          design, settings, str(sample))
            group_rows.append(groups.assign(sample=number))
            if block is not None:
                block["sample"] = np.full(len(block["source"]), number, dtype=np.int32)
                blocks.append(block)

    result = _table(blocks, design, labels.cat.categories, samples.cat.categories, sample_key)
    # a sample left without cells (all failed QC) has no groups: its tables are empty
    groups = pd.concat(group_rows, ignore_index=True) if group_rows else pd.DataFrame(
        columns=["group", "n_cells", "scored", *design.symbols, "sample"])
    groups = _groups_table(groups, labels.cat.categories, samples.cat.categories, sample_key)
    logger.info(
        "communication: %d interactions with all genes in the data, %d sample(s), %d rows "
        "(%d with a p-value)", len(design.table), len(samples.cat.categories), len(result),
        int(result["pvalue"].notna().sum()),
    )
    params = {
        "groupby": groupby, "sample_key": sample_key, "resource": _describe(resource),
        "layer": layer, "gene_symbols": gene_symbols, "n_perms": n_perms,
        "min_fraction": float(min_fraction), "min_cells": min_cells,
        "complex_policy": complex_policy, "rows": rows, "seed": seed, "n_jobs": n_jobs,
        "n_interactions": len(design.table), "missing_genes": design.missing,
    }
    return store(adata, key_added, params=params, inplace=inplace, result=result,
                 tables={K.TABLE_INTERACTIONS: result, K.TABLE_GROUPS: groups})


@dataclass(frozen=True)
class _Settings:
    n_perms: int
    min_fraction: float
    min_cells: int
    complex_policy: str
    rows: str
    seed: int
    per_sample_seed: bool


@dataclass(frozen=True)
class _Design:
    """The interactions that can be scored, their entities (genes or complexes) and genes."""

    table: pd.DataFrame  # interactions kept, in resource order
    genes: np.ndarray  # column positions in adata of the genes used
    symbols: list[str]  # their upper-cased symbols
    entity_genes: np.ndarray  # entities x subunits: indices into ``genes``, -1 pads
    ligand: np.ndarray  # entity of each interaction's ligand
    receptor: np.ndarray  # entity of each interaction's receptor
    missing: list[str]  # resource genes absent from the data


def _check_arguments(n_perms, min_fraction, min_cells, complex_policy, rows, seed, n_jobs):
    for name, value in (("n_perms", n_perms), ("min_cells", min_cells), ("seed", seed),
                        ("n_jobs", n_jobs)):
        if isinstance(value, bool) or not isinstance(value, int | np.integer):
            raise InputError(f"{name} must be an integer (got {value!r}).")
    if n_perms < 0:
        raise InputError(f"n_perms must not be negative (got {n_perms}).")
    if min_cells < 1:
        raise InputError(f"min_cells must be at least 1 (got {min_cells}).")
    if seed < 0:
        raise InputError(f"seed must not be negative (got {seed}).")
    if n_jobs == 0 or n_jobs < -1:
        raise InputError(f"n_jobs must be a positive number of threads or -1 (got {n_jobs}).")
    if not 0 <= float(min_fraction) <= 1:
        raise InputError(f"min_fraction must lie between 0 and 1 (got {min_fraction}).")
    if complex_policy not in COMPLEX_POLICIES:
        raise InputError(f"complex_policy must be one of {', '.join(COMPLEX_POLICIES)} "
                         f"(got {complex_policy!r}).")
    if rows not in ROWS:
        raise InputError(f"rows must be one of {', '.join(ROWS)} (got {rows!r}).")
    return int(n_perms), int(min_cells), int(seed), int(n_jobs)


def _design(adata: AnnData, table: pd.DataFrame, gene_symbols: str | None) -> _Design:
    index = gene_index(adata, gene_symbols)
    missing = sorted({
        gene for side in ("ligand", "receptor") for name in table[side]
        for gene in subunits(name) if gene.upper() not in index
    })
    lost = {gene.upper() for gene in missing}
    keep = np.array([
        not any(gene.upper() in lost for gene in subunits(lig) + subunits(rec))
        for lig, rec in zip(table["ligand"], table["receptor"], strict=True)
    ], dtype=bool)
    if not keep.any():
        raise InputError(
            f"no interaction of the resource has all its genes in the data (for example "
            f"{', '.join(missing[:3])} are missing); check var_names or gene_symbols."
        )
    if missing:
        named = ", ".join(missing[:LISTED_GENES])
        more = f" and {len(missing) - LISTED_GENES} more" if len(missing) > LISTED_GENES else ""
        logger.warning(
            "communication: %d of %d interactions dropped; genes not in the data: %s%s",
            int((~keep).sum()), len(table), named, more,
        )
    table = table[keep].reset_index(drop=True)
    entities = list(dict.fromkeys([*table["ligand"], *table["receptor"]]))
    entity_of = {name: i for i, name in enumerate(entities)}
    # ascending column order keeps every slice of the matrix in canonical (sorted) order
    columns = sorted({index[gene.upper()] for name in entities for gene in subunits(name)})
    position = {column: i for i, column in enumerate(columns)}
    members = [list(dict.fromkeys(position[index[gene.upper()]] for gene in subunits(name)))
               for name in entities]
    entity_genes = np.full((len(members), max(map(len, members))), -1, dtype=np.int64)
    for row, genes in enumerate(members):
        entity_genes[row, :len(genes)] = genes
    symbol_of = {index[gene.upper()]: gene.upper() for name in entities
                 for gene in subunits(name)}
    return _Design(
        table=table,
        genes=np.array(columns, dtype=np.int64),
        symbols=[symbol_of[column] for column in columns],
        entity_genes=entity_genes,
        ligand=np.array([entity_of[name] for name in table["ligand"]], dtype=np.int64),
        receptor=np.array([entity_of[name] for name in table["receptor"]], dtype=np.int64),
        missing=missing,
    )


def _resource_matrix(adata: AnnData, layer: str | None, genes: np.ndarray) -> sp.csr_matrix:
    """Return the resource's genes (columns) of every cell as a float64 CSR matrix."""
    data = adata.X if layer is None else adata.layers[layer]
    if sp.issparse(data):
        matrix = sp.csr_matrix(data[:, genes], dtype=np.float64)
    else:
        matrix = sp.csr_matrix(np.asarray(data[:, genes], dtype=np.float64))
    matrix.sum_duplicates()
    if matrix.nnz and matrix.data.min() < 0:
        where = ".X" if layer is None else f"layer '{layer}'"
        logger.warning("communication: %s holds negative values; CellPhoneDB's statistic "
                       "expects log-normalised expression (negative values count as not "
                       "expressed).", where)
    return matrix


def _score_sample(matrix: sp.csr_matrix, cells: np.ndarray, codes: np.ndarray,
                  categories: pd.Index, design: _Design, settings: _Settings, sample: str):
    """Score the ``cells`` of one sample.

    Returns the columns of its rows of the interaction table (or None) and its groups.
    """
    sizes = np.bincount(codes, minlength=len(categories))
    scored = np.flatnonzero(sizes >= settings.min_cells)
    whole = len(cells) == matrix.shape[0] and np.array_equal(cells, np.arange(len(cells)))
    rows = matrix if whole else matrix[cells]
    groups = _group_means(rows, codes, sizes, design.symbols)
    groups.insert(2, "scored", groups["n_cells"] >= settings.min_cells)
    if not len(scored):
        logger.info("communication: sample %s has no group of at least %d cells; no rows.",
                    sample, settings.min_cells)
        return None, groups
    # slot of each cell: its scored group, or one shared slot for the cells of smaller groups
    n_scored = len(scored)
    slot_of = np.full(len(categories), n_scored, dtype=np.int64)
    slot_of[scored] = np.arange(n_scored)
    dtype = np.uint8 if n_scored < 255 else np.uint16
    slots = slot_of[codes].astype(dtype)
    rest = len(codes) - int(sizes[scored].sum())  # cells of groups too small to score
    slot_sizes = np.append(sizes[scored], [rest] if rest else []).astype(float)
    n_slots = len(slot_sizes)

    csc = rows.tocsc()
    del rows  # the row slice is freed right away
    csc.sort_indices()
    observed_sums = np.empty((csc.shape[1], n_slots, 1))
    kernels.permuted_sums(csc.indptr, csc.indices, csc.data, np.ascontiguousarray(slots[:, None]),
                          observed_sums)
    observed_sums = observed_sums[:, :, 0]
    positive = kernels.positive_counts(csc.indptr, csc.indices, csc.data, slots, n_slots)
    entity_genes = _entity_genes(design, observed_sums, settings.complex_policy)

    # entities per scored group: weakest subunit's mean (sum / size, as the kernel divides)
    mean = _lowest(observed_sums, entity_genes)[:, :n_scored] / slot_sizes[:n_scored]
    fraction = _lowest(positive, entity_genes)[:, :n_scored] / slot_sizes[:n_scored]

    lig_mean, rec_mean = mean[design.ligand], mean[design.receptor]  # interactions x groups
    lig_frac, rec_frac = fraction[design.ligand], fraction[design.receptor]
    # (source, target, interaction) arrays
    expressed = (lig_mean.T[:, None, :] > 0) & (rec_mean.T[None, :, :] > 0)
    tested = (expressed & (lig_frac.T[:, None, :] >= settings.min_fraction)
              & (rec_frac.T[None, :, :] >= settings.min_fraction))
    keep = {"tested": tested, "expressed": expressed, "all": np.ones_like(tested)}[settings.rows]
    source, target, inter = np.nonzero(keep)
    is_tested = tested[source, target, inter]

    pvalue = np.full(len(inter), np.nan)
    single = len(np.unique(slots)) < 2
    if single and settings.n_perms:
        logger.info("communication: sample %s holds one group only; its pairs get no p-value.",
                    sample)
    elif settings.n_perms and is_tested.any():
        rng = np.random.default_rng(
            [settings.seed, zlib.crc32(sample.encode())] if settings.per_sample_seed
            else settings.seed
        )
        rows = np.flatnonzero(is_tested)
        counts = _permutation_counts(
            csc, slots, slot_sizes, entity_genes, design.ligand[inter[rows]],
            design.receptor[inter[rows]], source[rows], target[rows],
            lig_mean[inter[rows], source[rows]] + rec_mean[inter[rows], target[rows]],
            settings.n_perms, rng,
        )
        pvalue[rows] = counts / settings.n_perms

    l_mean, r_mean = lig_mean[inter, source], rec_mean[inter, target]
    block = {
        "source": scored[source].astype(np.int32), "target": scored[target].astype(np.int32),
        "interaction": inter.astype(np.int32),
        "ligand_mean": l_mean, "receptor_mean": r_mean,
        "ligand_fraction": lig_frac[inter, source], "receptor_fraction": rec_frac[inter, target],
        "n_source": sizes[scored[source]], "n_target": sizes[scored[target]],
        "mean": np.where((l_mean > 0) & (r_mean > 0), (l_mean + r_mean) / 2.0, 0.0),
        "pvalue": pvalue, "tested": is_tested,
    }
    return block, groups


def _group_means(rows: sp.csr_matrix, codes: np.ndarray, sizes: np.ndarray,
                 symbols: list[str]) -> pd.DataFrame:
    """Return each present group's cells and mean expression of every resource gene."""
    present = np.flatnonzero(sizes)
    onehot = sp.csr_matrix(
        (np.ones(len(codes)), (np.searchsorted(present, codes), np.arange(len(codes)))),
        shape=(len(present), len(codes)),
    )
    means = np.asarray((onehot @ rows).todense()) / sizes[present][:, None]
    groups = pd.DataFrame({"group": present, "n_cells": sizes[present]})
    return pd.concat([groups, pd.DataFrame(means, columns=symbols)], axis=1)


def _entity_genes(design: _Design, observed_sums: np.ndarray, policy: str) -> np.ndarray:
    """Return each entity's subunits.

    Under ``min_overall`` only the one with the lowest overall mean (the first of equals, as
    squidpy).
    """
    if policy == "min":
        return design.entity_genes
    totals = np.append(observed_sums.sum(axis=1), np.inf)[design.entity_genes]  # pads: inf
    choice = np.argmin(totals, axis=1)
    return design.entity_genes[np.arange(len(choice)), choice][:, None]


def _lowest(values: np.ndarray, entity_genes: np.ndarray) -> np.ndarray:
    """Return per entity the lowest of its genes' ``values`` (genes x slots).

    Entities are the rows of ``entity_genes``, padded with -1.
    """
    padded = np.concatenate([np.asarray(values, dtype=float),
                             np.full((1, values.shape[1]), np.inf)])
    return padded[entity_genes].min(axis=1)


def _permutation_counts(csc, slots, slot_sizes, entity_genes, lig, rec, source, target,
                        observed, n_perms, rng) -> np.ndarray:
    """Permutations in which each tested pair's statistic exceeds the observed one."""
    # only the genes and entities of tested pairs enter the permutations
    needed = np.unique(np.concatenate([lig, rec]))
    local = np.full(len(entity_genes), -1, dtype=np.int64)
    local[needed] = np.arange(len(needed))
    members = entity_genes[needed]
    genes = np.unique(members[members >= 0])
    gene_local = np.full(csc.shape[1], -1, dtype=np.int64)
    gene_local[genes] = np.arange(len(genes))
    entity_ptr = np.zeros(len(needed) + 1, dtype=np.int64)
    entity_ptr[1:] = np.cumsum((members >= 0).sum(axis=1))
    flat = gene_local[members[members >= 0]]
    sub = csc if len(genes) == csc.shape[1] else csc[:, genes]
    sub.sort_indices()
    # pairs sorted by ligand and sender: consecutive pairs read the same ligand means
    order = np.lexsort((target, local[rec], source, local[lig]))
    lig, rec = local[lig][order], local[rec][order]
    source, target = source[order].astype(np.int64), target[order].astype(np.int64)
    observed = observed[order]

    n_cells, n_slots = len(slots), len(slot_sizes)
    per_call = kernels.chunk_size(n_slots, n_perms)
    per_block = max(per_call, min(n_perms, LABEL_BYTES // max(n_cells, 1)))
    sums = np.empty((len(genes), n_slots, per_call))
    means = np.empty((len(needed), n_slots, kernels.means_width(len(needed), n_slots, per_call)))
    counts = np.zeros(len(lig), dtype=np.int64)
    done = 0
    while done < n_perms:
        block = rng.permuted(np.tile(slots, (min(per_block, n_perms - done), 1)), axis=1)
        for start in range(0, len(block), per_call):
            labels = np.ascontiguousarray(block[start:start + per_call].T)
            width = labels.shape[1]
            kernels.permuted_sums(sub.indptr, sub.indices, sub.data, labels,
                                  sums[:, :, :width])
            kernels.count_exceedances(sums[:, :, :width], slot_sizes, entity_ptr, flat, lig, rec,
                                      source, target, observed, means, counts)
        done += len(block)
    restored = np.empty_like(counts)
    restored[order] = counts
    return restored


def _table(blocks, design: _Design, groups: pd.Index, samples: pd.Index,
           sample_key: str | None) -> pd.DataFrame:
    integers = ("source", "target", "interaction", "sample", "n_source", "n_target")
    floats = ("ligand_mean", "receptor_mean", "ligand_fraction", "receptor_fraction", "mean",
              "pvalue")
    frame = {
        column: np.concatenate([block.pop(column) for block in blocks]) if blocks
        else np.array([], dtype=bool if column == "tested"
                       else np.int32 if column in integers else float)
        for column in (*integers, *floats, "tested")
    }
    inter = frame["interaction"]
    table = pd.DataFrame(index=pd.RangeIndex(len(inter)))
    if sample_key is not None:
        table[K.SAMPLE] = pd.Categorical.from_codes(frame["sample"],
                                                    categories=samples.astype(str))
    for column in ("source", "target"):
        table[column] = pd.Categorical.from_codes(frame[column], categories=groups)
    names = design.table
    for column in ("interaction", "ligand", "receptor", "axis"):
        codes, uniques = pd.factorize(names[column])  # missing values (no axis) code -1
        table[column] = pd.Categorical.from_codes(codes[inter], categories=uniques.astype(str))
    for column in ("ligand_mean", "receptor_mean", "ligand_fraction", "receptor_fraction"):
        table[column] = frame.pop(column).astype(float, copy=False)
    for column in ("n_source", "n_target"):
        table[column] = frame.pop(column).astype(np.int64, copy=False)
    table["mean"] = frame.pop("mean").astype(float, copy=False)
    table["pvalue"] = frame.pop("pvalue").astype(float, copy=False)
    table["tested"] = frame.pop("tested").astype(bool, copy=False)
    return table


def _groups_table(groups: pd.DataFrame, categories: pd.Index, samples: pd.Index,
                  sample_key: str | None) -> pd.DataFrame:
    table = pd.DataFrame(index=pd.RangeIndex(len(groups)))
    if sample_key is not None:
        table[K.SAMPLE] = pd.Categorical.from_codes(groups["sample"].to_numpy(dtype=np.int64),
                                                    categories=samples.astype(str))
    table["group"] = pd.Categorical.from_codes(groups["group"].to_numpy(dtype=np.int64),
                                               categories=categories)
    table["n_cells"] = groups["n_cells"].to_numpy(dtype=np.int64)
    table["scored"] = groups["scored"].to_numpy(dtype=bool)
    genes = groups.columns.drop(["group", "n_cells", "scored", "sample"], errors="ignore")
    return pd.concat([table, groups[genes].reset_index(drop=True).astype(float)], axis=1)


def _describe(resource: object) -> str:
    if resource is None:
        return "repertoire"
    if isinstance(resource, pd.DataFrame):
        return f"DataFrame of {len(resource)} interactions"
    return str(resource)


@contextmanager
def _threads(n_jobs: int):
    """Run numba's kernels on ``n_jobs`` threads (at most what numba may use)."""
    import numba

    previous = numba.get_num_threads()
    limit = numba.config.NUMBA_NUM_THREADS
    numba.set_num_threads(limit if n_jobs == -1 else min(n_jobs, limit))
    try:
        yield
    finally:
        numba.set_num_threads(previous)
