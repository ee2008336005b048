"""The whole analysis on one large simulated cohort: time and peak memory of every step.

Samples are simulated and put through QC one at a time (as the workflow's per-sample jobs
do), then joined; preprocessing, clustering, annotation, CAR detection and the BCR steps run
on the cohort. Each step prints its wall time and the process's peak resident memory so far,
and the script ends with lineage and B/plasma-subset agreement against the simulator's truth
on singlets, so that a faster step cannot hide a worse one.

    .venv/bin/python benchmarks/scale.py [--patients 11] [--cells 1200] [--seed 3]

About 1,200 cells per sample give some 100,000 cells over the eleven patients' 90 samples.
"""

from __future__ import annotations

import argparse
import resource
import time
import warnings
from collections.abc import Callable

import numpy as np
import pandas as pd
from sklearn.metrics import f1_score

import repertoire as rp
from repertoire import _keys as K
from repertoire.datasets._design import LINEAGE_TYPES

B_AND_PLASMA = [*LINEAGE_TYPES["B"], *LINEAGE_TYPES["plasma"]]


def _peak_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2


def _timed(name: str, step: Callable[[], object]) -> object:
    start = time.perf_counter()
    result = step()
    print(f"{name:<28} {time.perf_counter() - start:8.1f} s   peak {_peak_gb():5.1f} GB",
          flush=True)
    return result


def _qc_each(args: argparse.Namespace) -> list:
    parts = []
    for sample in rp.datasets.simulate_samples(args.patients, 2, cells_per_sample=args.cells,
                                               seed=args.seed):
        rp.pp.qc(sample)
        rp.pp.filter_cells(sample)
        parts.append(sample)
    return parts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=11)
    parser.add_argument("--cells", type=int, default=1200, help="cells per sample")
    parser.add_argument("--seed", type=int, default=3)
    args = parser.parse_args()
    warnings.filterwarnings("ignore")

    parts = _timed("simulate + QC per sample", lambda: _qc_each(args))
    adata = _timed("merge", lambda: rp.io.concat_samples(parts))
    parts.clear()
    print(f"{adata.n_obs:,} cells after QC, {adata.n_vars:,} genes, "
          f"{adata.obs[K.SAMPLE].nunique()} samples", flush=True)
    _timed("preprocess", lambda: rp.pp.preprocess(adata))
    _timed("cluster", lambda: rp.tl.cluster(adata))
    _timed("annotate", lambda: rp.tl.annotate(adata))
    _timed("detect_car", lambda: rp.tl.detect_car(adata))
    _timed("bcr_state", lambda: rp.tl.bcr_state(adata))
    _timed("clonotypes", lambda: rp.tl.clonotypes(adata))
    _timed("diversity", lambda: rp.tl.diversity(adata))
    _timed("track_clones", lambda: rp.tl.track_clones(adata))
    _timed("reconstitution", lambda: rp.tl.reconstitution(adata))

    obs = adata.obs[~adata.obs[K.TRUE_DOUBLET].astype(bool)]
    lineage = np.mean(obs[K.LINEAGE].astype(str) == obs[K.TRUE_LINEAGE].astype(str))
    per_subset = f1_score(obs[K.TRUE_CELL_TYPE].astype(str), obs[K.CELL_TYPE].astype(str),
                          labels=B_AND_PLASMA, average=None, zero_division=0)
    print(f"{len(obs):,} singlets: lineage accuracy {lineage:.4f}; B/plasma macro-F1 "
          f"{per_subset.mean():.3f} ({obs[K.TRUE_CELL_TYPE].isin(B_AND_PLASMA).sum():,} cells)")
    print(pd.Series(per_subset, index=B_AND_PLASMA).round(3).to_string())


if __name__ == "__main__":
    main()
