"""Numeric kernels of the ligand-receptor permutation test (numba).

Group sums come from a scatter-add over the non-zero entries of a genes x cells (CSC) matrix:
each entry is added, for every permutation of a chunk, to the slot its cell holds in that
permutation. A chunk holds as many permutations as keep one gene's accumulator (slots x
permutations, float64) within 24 KiB, so that it stays in the first-level cache while the
gene's entries stream past it. Entries are added in cell order, as squidpy does, so the same
labels give the same sums bit for bit; the observed sums are a one-permutation call of the same
kernel, so observed and permuted statistics tie exactly where they should.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

# bytes of one gene's accumulator (slots x permutations x 8): half the first-level data cache
ACCUMULATOR_BYTES = 24 * 1024
# bytes of the entity means that the counting reads at random: half the last-level cache, but
# never fewer than MIN_WIDTH permutations per pass (each pass costs a little per pair)
MEANS_BYTES = 16 * 1024 * 1024
MIN_WIDTH = 64


def chunk_size(n_slots: int, n_perms: int) -> int:
    """Permutations per kernel call for ``n_slots`` group slots."""
    return int(max(1, min(n_perms, ACCUMULATOR_BYTES // (8 * n_slots))))


def means_width(n_entities: int, n_slots: int, n_perms: int) -> int:
    """Return the permutations per pass of the counting, a multiple of 8 for the vector units.

    The pass holds ``n_entities`` entities and ``n_slots`` slots in a cache-sized buffer.
    """
    width = MEANS_BYTES // (8 * max(n_entities * n_slots, 1))
    return int(min(n_perms, max(MIN_WIDTH, width // 8 * 8)))


@njit(cache=True, parallel=True)
def permuted_sums(indptr, indices, data, labels, out):  # pragma: no cover - compiled
    """Sum every gene over the cells of each slot in each permutation, into ``out``.

    ``out[g, k, p]`` is the sum of gene ``g`` over the cells whose slot is ``k`` in permutation
    ``p`` (``labels[cell, p]``); CSC arrays of genes x cells, ``out`` of shape (genes, slots,
    permutations), permutations contiguous for the counting that follows.
    """
    n_genes = indptr.shape[0] - 1
    n_perm = labels.shape[1]
    for g in prange(n_genes):
        acc = out[g]
        acc[:] = 0.0
        for j in range(indptr[g], indptr[g + 1]):
            row = labels[indices[j]]
            value = data[j]
            for p in range(n_perm):
                acc[row[p], p] += value


@njit(cache=True)
def positive_counts(indptr, indices, data, codes, n_slots):  # pragma: no cover - compiled
    """Count the cells with a value above zero per gene and slot (genes x slots)."""
    n_genes = indptr.shape[0] - 1
    counts = np.zeros((n_genes, n_slots), dtype=np.int64)
    for g in range(n_genes):
        for j in range(indptr[g], indptr[g + 1]):
            if data[j] > 0:
                counts[g, codes[indices[j]]] += 1
    return counts


@njit(cache=True, parallel=True)
def count_exceedances(
    sums, sizes, entity_ptr, entity_genes, lig, rec, source, target, observed, means, counts
):  # pragma: no cover - compiled
    """Count for each pair the permutations whose statistic exceeds the observed one.

    Adds to ``counts[i]`` the permutations in which the ligand mean in ``source[i]`` plus the
    receptor mean in ``target[i]`` exceeds ``observed[i]`` (strictly). An entity (a gene or a
    complex) has, per slot and permutation, the lowest of its subunits' sums divided by the
    slot's size. ``sums`` is (genes, slots, permutations); ``means``
    (entities x slots x a few permutations) is a buffer small enough to stay in cache while
    the pairs, sorted by ligand, read it: permutations are counted a buffer at a time.
    """
    n_entities = entity_ptr.shape[0] - 1
    n_slots = sums.shape[1]
    n_perm = sums.shape[2]
    width = means.shape[2]
    for begin in range(0, n_perm, width):
        stop = min(width, n_perm - begin)
        for e in prange(n_entities):
            first = entity_genes[entity_ptr[e]]
            for k in range(n_slots):
                out = means[e, k]
                values = sums[first, k]
                for p in range(stop):
                    out[p] = values[begin + p]
                for q in range(entity_ptr[e] + 1, entity_ptr[e + 1]):
                    values = sums[entity_genes[q], k]
                    for p in range(stop):
                        out[p] = min(out[p], values[begin + p])
                size = sizes[k]
                for p in range(stop):
                    out[p] = out[p] / size
        for i in prange(lig.shape[0]):
            a = means[lig[i], source[i]]
            b = means[rec[i], target[i]]
            threshold = observed[i]
            hits = 0
            for p in range(stop):
                if a[p] + b[p] > threshold:
                    hits += 1
            counts[i] += hits
