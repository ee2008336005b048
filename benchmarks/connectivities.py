"""UMAP connectivities: repertoire.pp.neighbors beside scanpy.pp.neighbors (umap-learn).

Both search the same neighbours (scikit-learn, brute force) and turn them into UMAP's fuzzy
simplicial set: scanpy through umap-learn's ``fuzzy_simplicial_set`` (numba), repertoire with
numpy for all cells at once. Every workflow step is a new Python process, so each side runs in
fresh processes, as a job does: the first call pays what a job pays (umap-learn's import, in
which pynndescent compiles its distances, and the compilation of ``fuzzy_simplicial_set``),
later calls in the same process the computation alone (their median). Timed twice: the whole
graph (neighbour search and connectivities) on the same embedding, and the connectivities alone
from the same neighbours. scanpy is imported before any timing on both sides. The script prints
each time, the ratios and how far repertoire's connectivities are from scanpy's.

    .venv/bin/python benchmarks/connectivities.py [--cells 15000] [--dims 50] [--neighbors 15] \\
        [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import scipy.sparse as sp

SIDES = ("repertoire", "scanpy")


def _embedding(n_cells: int, n_dims: int) -> np.ndarray:
    """Cells around 20 centres, like a PCA of a few cell types."""
    rng = np.random.default_rng(0)
    centres = rng.normal(0, 6, (20, n_dims))
    labels = rng.integers(0, 20, n_cells)
    return (centres[labels] + rng.normal(0, 1, (n_cells, n_dims))).astype(np.float32)


def _child(side: str, task: str, directory: Path, n_neighbors: int, repeats: int) -> None:
    """Time one side's first and later calls in this (fresh) process; report them as JSON."""
    warnings.filterwarnings("ignore")
    import anndata as ad
    import scanpy as sc

    from repertoire.pp._neighbors import umap_connectivities

    x = np.load(directory / "embedding.npy")
    knn = np.load(directory / "knn.npz")

    def graph() -> sp.csr_matrix:
        adata = ad.AnnData(obsm={"X_pca": x})
        if side == "repertoire":
            import repertoire as rp

            return rp.pp.neighbors(adata, use_rep="X_pca", n_neighbors=n_neighbors,
                                   transformer="sklearn", inplace=False)[0]
        sc.pp.neighbors(adata, use_rep="X_pca", n_neighbors=n_neighbors, transformer="sklearn")
        return adata.obsp["connectivities"]

    def connectivities() -> sp.csr_matrix:
        if side == "repertoire":
            return umap_connectivities(knn["indices"], knn["distances"], n_neighbors=n_neighbors)
        from scanpy.neighbors._connectivity import umap

        return umap(knn["indices"], knn["distances"], n_obs=x.shape[0], n_neighbors=n_neighbors)

    call = graph if task == "graph" else connectivities
    seconds = []
    for _ in range(1 + repeats):
        start = time.perf_counter()
        result = call()
        seconds.append(time.perf_counter() - start)
    sp.save_npz(directory / f"{side}_{task}.npz", sp.csr_matrix(result))
    print(json.dumps([seconds[0], statistics.median(seconds[1:])]))


def _run(side: str, task: str, directory: Path, args: argparse.Namespace) -> list[float]:
    out = subprocess.run(
        [sys.executable, __file__, "--child", side, task, str(directory),
         "--neighbors", str(args.neighbors), "--repeats", str(args.repeats)],
        check=True, capture_output=True, text=True,
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells", type=int, default=15_000)
    parser.add_argument("--dims", type=int, default=50)
    parser.add_argument("--neighbors", type=int, default=15)
    parser.add_argument("--repeats", type=int, default=3, help="later calls per process")
    parser.add_argument("--child", nargs=3, metavar=("SIDE", "TASK", "DIR"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(args.child[0], args.child[1], Path(args.child[2]), args.neighbors, args.repeats)
        return
    from repertoire.pp._neighbors import knn

    with tempfile.TemporaryDirectory() as name:
        directory = Path(name)
        x = _embedding(args.cells, args.dims)
        np.save(directory / "embedding.npy", x)
        indices, distances, _ = knn(x, args.neighbors)
        np.savez(directory / "knn.npz", indices=indices, distances=distances)
        print(f"{args.cells} cells, {args.dims} dimensions, {args.neighbors} neighbours; each "
              "side in a fresh process")
        for task, label in (("graph", "neighbours + connectivities"),
                            ("connectivities", "connectivities from the same neighbours")):
            times = {side: _run(side, task, directory, args) for side in SIDES}
            ours = sp.load_npz(directory / f"repertoire_{task}.npz")
            peer = sp.load_npz(directory / f"scanpy_{task}.npz")
            same_edges = ((ours != 0) != (peer != 0)).nnz == 0
            print(f"\n{label}")
            for side in SIDES:
                first, later = times[side]
                print(f"  {side:<11} first call {first:7.2f} s   later calls {later:6.2f} s")
            for i, call in enumerate(("first call", "later calls")):
                ratio = times["repertoire"][i] / times["scanpy"][i]
                print(f"  time ratio (repertoire / scanpy), {call}: {ratio:.3f}")
            print(f"  max |repertoire - scanpy| {abs(ours - peer).max():.2e}, same edges: "
                  f"{same_edges}, {ours.nnz} edges")


if __name__ == "__main__":
    main()
