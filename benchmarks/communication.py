"""Ligand-receptor permutation test: repertoire.tl.communication beside squidpy and liana.

All three compute CellPhoneDB's statistic and permutation p-value. On the same simulated,
log-normalised input (5,000 cells of the 12 commonest cell types, about 3,000 ligand-receptor
pairs: those of liana's consensus resource whose genes the simulator has, filled up with random
gene pairs), with 1,000 permutations and an expression threshold of 0.1, the script prints the
median run time of each (after a warm-up run that compiles numba kernels), the ratios, peak
memory (tracemalloc) and how well repertoire's numbers agree with squidpy's. Then it times one
call on 60 samples of about 500 cells (permutations within each sample) against one call on the
same 30,000 cells pooled. ``--routes`` also times three ways to get the permuted group sums.

    OMP_NUM_THREADS=1 NUMBA_NUM_THREADS=1 .venv/bin/python benchmarks/communication.py \\
        [--repeats 3] [--liana-repeats 1] [--pairs 3000] [--routes] [--skip-samples]
"""

from __future__ import annotations

import argparse
import importlib.util
import resource
import statistics
import time
import tracemalloc
import warnings

import numpy as np
import pandas as pd
import scanpy as sc
import scipy.sparse as sp

import repertoire as rp
from repertoire import _keys as K
from repertoire.tl import _lr_kernels as kernels

N_CELLS, N_GROUPS, N_PERMS, THRESHOLD = 5000, 12, 1000, 0.1


def _lognorm(adata):
    adata = adata[~adata.obs[K.TRUE_DOUBLET].to_numpy()].copy()
    adata.X = adata.layers[K.COUNTS].copy()
    sc.pp.normalize_total(adata, target_sum=1e4)
    sc.pp.log1p(adata)
    small = sc.AnnData(adata.X, obs=adata.obs[[K.SAMPLE, K.TRUE_CELL_TYPE]].copy(),
                       var=adata.var[[]].copy())
    small.obs[K.TRUE_CELL_TYPE] = small.obs[K.TRUE_CELL_TYPE].astype(str).astype("category")
    return small


def _cells(seed: int = 3):
    adata = _lognorm(rp.datasets.simulate_cohort(6, 2, cells_per_sample=900, seed=seed,
                                                 spatial=False))
    common = adata.obs[K.TRUE_CELL_TYPE].value_counts().index[:N_GROUPS]
    adata = adata[adata.obs[K.TRUE_CELL_TYPE].isin(common).to_numpy()]
    pick = np.random.default_rng(0).choice(adata.n_obs, N_CELLS, replace=False)
    adata = adata[np.sort(pick)].copy()
    adata.obs["group"] = adata.obs[K.TRUE_CELL_TYPE].astype(str).astype("category")
    return adata


def _resource(adata, n_pairs: int) -> tuple[pd.DataFrame, str]:
    genes = set(adata.var_names)
    if importlib.util.find_spec("liana") is not None:
        table = rp.resources.interactions("liana:consensus")
        origin = "liana consensus"
    else:
        table = rp.resources.interactions()
        origin = "repertoire's curated table"
    inside = table[[all(g in genes for g in rp.resources.subunits(lig) + rp.resources.subunits(rec))
                    for lig, rec in zip(table["ligand"], table["receptor"], strict=True)]]
    pairs = inside[["ligand", "receptor"]].head(n_pairs)
    plain = np.array([g for g in adata.var_names if "_" not in g])
    rng = np.random.default_rng(1)
    while len(pairs) < n_pairs:
        extra = pd.DataFrame({"ligand": rng.choice(plain, n_pairs), "receptor":
                              rng.choice(plain, n_pairs)})
        pairs = pd.concat([pairs, extra]).drop_duplicates().head(n_pairs)
    return pairs.reset_index(drop=True), f"{len(inside)} of {origin} + random gene pairs"


def _timed(function, repeats: int, *, warm_up: bool = True, memory: bool = True):
    """Median seconds of ``repeats`` calls (after one warm-up call that compiles numba
    kernels), the last result and the peak memory traced in one more call (numpy and Python
    allocations; None without ``memory``)."""
    result = function() if warm_up else None
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        result = function()
        seconds.append(time.perf_counter() - start)
    peak = None
    if memory:
        tracemalloc.start()
        function()
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return statistics.median(seconds), result, peak


def _mib(peak) -> str:
    return "" if peak is None else f"  peak {peak / 2**20:6.0f} MiB"


def _squidpy(adata, pairs):
    import squidpy as sq

    frame = pairs.rename(columns={"ligand": "source", "receptor": "target"})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return sq.gr.ligrec(adata, "group", interactions=frame, use_raw=False, n_perms=N_PERMS,
                            threshold=THRESHOLD, seed=0, copy=True, n_jobs=1,
                            complex_policy="min", show_progress_bar=False)


def _liana(adata, pairs):
    import liana as li

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return li.mt.cellphonedb(adata, groupby="group", resource=pairs, expr_prop=THRESHOLD,
                                 min_cells=1, n_perms=N_PERMS, use_raw=False, seed=0, n_jobs=1,
                                 inplace=False, verbose=False)


def _agreement(ours: pd.DataFrame, reference, pairs: pd.DataFrame) -> str:
    means = reference["means"].astype(float)
    pvalues = reference["pvalues"].astype(float)
    simple = ~(pairs["ligand"].str.contains("_") | pairs["receptor"].str.contains("_"))
    index = pd.MultiIndex.from_frame(pairs.loc[simple].rename(
        columns={"ligand": "source", "receptor": "target"}))
    index = index[index.isin(means.index)]
    mine = ours.assign(source_gene=ours["ligand"].astype(str),
                       target_gene=ours["receptor"].astype(str))
    mine = mine.set_index(["source_gene", "target_gene", "source", "target"])
    theirs_mean = means.loc[index].stack(level=[0, 1], future_stack=True)
    theirs_p = pvalues.loc[index].stack(level=[0, 1], future_stack=True)
    common = theirs_mean.index
    our_mean = mine["mean"].reindex(common).fillna(0.0)
    our_p = mine["pvalue"].reindex(common)
    same_nan = (our_p.isna() == theirs_p.isna()).mean()
    tested = theirs_p.notna() & our_p.notna()
    gap = (our_p[tested] - theirs_p[tested]).abs()
    return (f"{len(index)} single-gene pairs x {len(means.columns)} group pairs: max |mean "
            f"difference| {np.abs(our_mean - theirs_mean).max():.2e}, same untested pattern on "
            f"{same_nan:.4f}, |p difference| median {gap.median():.4f}, max {gap.max():.4f}")


def _routes(adata, pairs) -> None:
    """Seconds for the permuted group sums of 1,000 permutations, three ways."""
    from numba import njit

    @njit(cache=False)
    def per_permutation(indptr, indices, data, labels, n_slots, n_genes):
        out = np.zeros((labels.shape[0], n_slots, n_genes))
        for p in range(labels.shape[0]):  # squidpy/liana/CellPhoneDB: one pass per permutation
            for c in range(labels.shape[1]):
                k = labels[p, c]
                for j in range(indptr[c], indptr[c + 1]):
                    out[p, k, indices[j]] += data[j]
        return out

    genes = sorted({g for s in pd.concat([pairs["ligand"], pairs["receptor"]])
                    for g in rp.resources.subunits(s)})
    csr = sp.csr_matrix(adata[:, genes].X, dtype=np.float64)
    codes = adata.obs["group"].cat.codes.to_numpy().astype(np.uint8)
    n_slots = int(codes.max()) + 1
    labels = np.random.default_rng(0).permuted(np.tile(codes, (N_PERMS, 1)), axis=1)
    per_permutation(csr.indptr, csr.indices, csr.data, labels[:2], n_slots, csr.shape[1])
    start = time.perf_counter()
    per_permutation(csr.indptr, csr.indices, csr.data, labels, n_slots, csr.shape[1])
    print(f"  scatter-add, one pass over the cells per permutation   "
          f"{time.perf_counter() - start:6.2f} s")
    start = time.perf_counter()
    for block in range(0, N_PERMS, 250):  # batches of 250 permutations bound the product
        part = labels[block:block + 250]
        columns = (np.arange(len(part))[:, None] * n_slots + part).T.ravel()
        onehot = sp.csr_matrix((np.ones(columns.size), columns,
                                np.arange(0, columns.size + 1, len(part))),
                               shape=(csr.shape[0], len(part) * n_slots))
        (csr.T.tocsr() @ onehot).toarray()
    print(f"  one sparse product genes x cells @ cells x (perms x groups) "
          f"{time.perf_counter() - start:6.2f} s")
    csc = csr.tocsc()
    per_call = kernels.chunk_size(n_slots, N_PERMS)
    sums = np.empty((csc.shape[1], n_slots, per_call))
    kernels.permuted_sums(csc.indptr, csc.indices, csc.data,
                          np.ascontiguousarray(labels[:per_call].T), sums)
    start = time.perf_counter()
    for block in range(0, N_PERMS, per_call):
        part = np.ascontiguousarray(labels[block:block + per_call].T)
        kernels.permuted_sums(csc.indptr, csc.indices, csc.data, part,
                              sums[:, :, :part.shape[1]])
    print(f"  repertoire: per gene, chunks of {per_call} permutations in L1          "
          f"{time.perf_counter() - start:6.2f} s")


def _samples(pairs, repeats: int) -> None:
    cohort = _lognorm(rp.datasets.simulate_cohort(10, 2, cells_per_sample=560, seed=5,
                                                  spatial=False))
    keep = cohort.obs[K.SAMPLE].astype(str).drop_duplicates().iloc[:60]
    cohort = cohort[cohort.obs[K.SAMPLE].isin(keep).to_numpy()].copy()
    cohort.obs[K.SAMPLE] = cohort.obs[K.SAMPLE].astype(str).astype("category")
    print(f"\n{cohort.n_obs} cells in {cohort.obs[K.SAMPLE].nunique()} samples "
          f"({cohort.n_obs / cohort.obs[K.SAMPLE].nunique():.0f} per sample), "
          f"{cohort.obs[K.TRUE_CELL_TYPE].nunique()} cell types")

    def per_sample():
        return rp.tl.communication(cohort, K.TRUE_CELL_TYPE, sample_key=K.SAMPLE,
                                   resource=pairs, n_perms=N_PERMS, min_fraction=THRESHOLD,
                                   inplace=False)

    def pooled():
        return rp.tl.communication(cohort, K.TRUE_CELL_TYPE, resource=pairs, n_perms=N_PERMS,
                                   min_fraction=THRESHOLD, inplace=False)

    samples_s, table, samples_mem = _timed(per_sample, repeats)
    pooled_s, pooled_table, pooled_mem = _timed(pooled, repeats)
    print(f"60 samples, one call        {samples_s:7.2f} s{_mib(samples_mem)}  {len(table)} rows")
    print(f"30,000 cells pooled         {pooled_s:7.2f} s{_mib(pooled_mem)}  "
          f"{len(pooled_table)} rows")
    print(f"ratio (60 samples / pooled): {samples_s / pooled_s:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--liana-repeats", type=int, default=1)
    parser.add_argument("--pairs", type=int, default=3000)
    parser.add_argument("--routes", action="store_true", help="time three group-sum routes")
    parser.add_argument("--skip-samples", action="store_true", help="skip the 60-sample figure")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")

    adata = _cells()
    pairs, origin = _resource(adata, args.pairs)
    print(f"{adata.n_obs} cells, {adata.obs['group'].nunique()} groups, {len(pairs)} pairs "
          f"({origin}), {N_PERMS} permutations, threshold {THRESHOLD}")

    def ours():
        return rp.tl.communication(adata, "group", resource=pairs, n_perms=N_PERMS,
                                   min_fraction=THRESHOLD, min_cells=1, rows="expressed",
                                   inplace=False)

    ours_s, table, ours_mem = _timed(ours, args.repeats)
    print(f"repertoire communication   {ours_s:7.2f} s{_mib(ours_mem)}")
    squidpy_s, reference, squidpy_mem = _timed(lambda: _squidpy(adata, pairs), args.repeats)
    print(f"squidpy gr.ligrec          {squidpy_s:7.2f} s{_mib(squidpy_mem)}"
          f"  ratio {squidpy_s / ours_s:.1f}x")
    if importlib.util.find_spec("liana") is not None:
        # liana keeps the permuted statistic of every row (2 x permutations x rows, float64:
        # about 7 GB here) and runs for minutes: timed once, its memory as the process peak
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        liana_s, _, _ = _timed(lambda: _liana(adata, pairs), args.liana_repeats,
                               warm_up=False, memory=False)
        after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        print(f"liana cellphonedb          {liana_s:7.2f} s  process peak RSS {after / 2**10:6.0f}"
              f" MiB (before: {before / 2**10:.0f})  ratio {liana_s / ours_s:.1f}x")
    else:
        print("liana cellphonedb          not installed (pip install liana)")
    print("agreement with squidpy: " + _agreement(table, reference, pairs))
    if args.routes:
        print("\npermuted group sums of 1,000 permutations (numba, one thread):")
        _routes(adata, pairs)
    if not args.skip_samples:
        _samples(pairs, args.repeats)


if __name__ == "__main__":
    main()
