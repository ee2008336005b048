"""Doublets from receptor chains: repertoire.pp.receptor_doublets beside scirpy.tl.chain_qc.

scirpy's chain QC labels cells whose chains no single lymphocyte carries as receptor type
``ambiguous`` (BCR and TCR chains) and ``multichain`` (more than two chains of one arm).
repertoire adds two heavy/beta chains (allelic exclusion) and a UMI floor. Both run on the
same simulated cohort in the same process; the script prints their run time, its ratio and
recall/precision against the simulator's doublets.

    .venv/bin/python benchmarks/receptor_doublets.py [--patients 11] [--cells 1000]
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np

import repertoire as rp
from repertoire import _keys as K


def _score(called: np.ndarray, truth: np.ndarray) -> str:
    hit = (called & truth).sum()
    return f"recall {hit / truth.sum():.3f}, precision {hit / max(called.sum(), 1):.3f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=11)
    parser.add_argument("--cells", type=int, default=1000, help="cells per sample")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    import scirpy as ir

    adata = rp.datasets.simulate_cohort(args.patients, 2, cells_per_sample=args.cells, seed=1)
    truth = adata.obs[K.TRUE_DOUBLET].to_numpy()
    # warm both up on a slice, so that neither pays for compilation in the timing
    ir.tl.chain_qc(adata[:500].copy())
    rp.pp.receptor_doublets(adata[:500].copy())

    start = time.perf_counter()
    ours = rp.pp.receptor_doublets(adata, inplace=False)
    ours_seconds = time.perf_counter() - start
    peer = adata.copy()
    start = time.perf_counter()
    ir.tl.chain_qc(peer)
    peer_seconds = time.perf_counter() - start

    scirpy_called = peer.obs["receptor_type"].isin(["ambiguous", "multichain"]).to_numpy()
    ours_called = ours[K.RECEPTOR_DOUBLET].to_numpy()
    both_arms = (ours[K.RECEPTOR_DOUBLET_REASON] == "BCR and TCR chains").to_numpy()
    ambiguous = (peer.obs["receptor_type"] == "ambiguous").to_numpy()
    print(f"{adata.n_obs} cells, {truth.sum()} simulated doublets")
    print(f"scirpy chain_qc      {peer_seconds:7.2f} s  {_score(scirpy_called, truth)}")
    print(f"receptor_doublets    {ours_seconds:7.2f} s  {_score(ours_called, truth)}")
    print(f"time ratio (repertoire / scirpy): {ours_seconds / peer_seconds:.2f}")
    print(f"'BCR and TCR chains' == scirpy 'ambiguous' on {np.mean(both_arms == ambiguous):.4f}"
          " of cells (differences: chains under the UMI floor)")


if __name__ == "__main__":
    main()
