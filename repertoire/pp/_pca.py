"""Principal components of the highly variable genes, kept sparse."""

from __future__ import annotations

import numpy as np
import scanpy as sc
import scipy.sparse as sp
from anndata import AnnData
from sklearn.utils.sparsefuncs import mean_variance_axis

from .. import _keys as K
from .._docs import doc_params
from .._logging import logger
from .._utils import require_layer, store


@doc_params
def pca(
    adata: AnnData,
    *,
    n_comps: int = 50,
    scale: bool = False,
    svd_solver: str = "covariance_eigh",
    random_state: int = 0,
    inplace: bool = True,
) -> np.ndarray | None:
    """Project cells on the principal components of the highly variable genes.

    Wraps :func:`scanpy.pp.pca` on the genes flagged in ``.var["highly_variable"]`` (all genes
    when the column is missing). Sparse data stay sparse: centring is implicit and scaling,
    when asked for, divides each gene by its standard deviation without densifying, so only
    the highly variable columns are ever copied.

    Parameters
    ----------
    {adata}
        With log-normalised values in ``.X``.
    n_comps
        Number of components (fewer when there are fewer cells or genes).
    scale
        Give every gene unit variance before the projection.
    svd_solver
        Solver of :func:`scanpy.pp.pca`; ``"covariance_eigh"`` is exact and deterministic.
    {random_state}
    {inplace}

    Returns
    -------
    With ``inplace=False``, the cells x components embedding. Otherwise ``None``; the
    embedding goes to ``.obsm["X_pca"]``, the loadings to ``.varm["PCs"]`` (zero for genes not
    used) and ``.uns["pca"]`` holds ``variance``, ``variance_ratio`` and ``params``.
    """
    require_layer(adata, None)
    genes = (
        adata.var[K.HVG].to_numpy(dtype=bool) if K.HVG in adata.var
        else np.ones(adata.n_vars, dtype=bool)
    )
    matrix = adata.X[:, genes]
    if scale:
        matrix = _unit_variance(matrix)
    n_comps = max(1, min(n_comps, matrix.shape[0] - 1, matrix.shape[1] - 1))
    shell = AnnData(X=matrix)
    sc.pp.pca(shell, n_comps=n_comps, zero_center=True, svd_solver=svd_solver,
              random_state=random_state)
    embedding = shell.obsm[K.PCA]
    logger.info("PCA on %d genes: %d components, %.1f%% of variance", genes.sum(), n_comps,
                100 * shell.uns[K.PCA_UNS]["variance_ratio"].sum())
    loadings = np.zeros((adata.n_vars, n_comps), dtype=embedding.dtype)
    loadings[genes] = shell.varm[K.LOADINGS]
    return store(
        adata, K.PCA_UNS, inplace=inplace, result=embedding, obsm={K.PCA: embedding},
        varm={K.LOADINGS: loadings},
        uns={name: shell.uns[K.PCA_UNS][name] for name in ("variance", "variance_ratio")},
        params={"n_comps": n_comps, "scale": scale, "svd_solver": svd_solver,
                "random_state": random_state, "use_highly_variable": K.HVG in adata.var,
                "zero_center": True},
    )


def _unit_variance(matrix: sp.spmatrix | np.ndarray) -> sp.spmatrix | np.ndarray:
    if sp.issparse(matrix):
        _, variance = mean_variance_axis(sp.csr_matrix(matrix), axis=0)
    else:
        variance = np.var(matrix, axis=0)
    std = np.sqrt(variance * matrix.shape[0] / max(matrix.shape[0] - 1, 1))
    factor = np.divide(1.0, std, out=np.zeros_like(std), where=std > 0).astype(matrix.dtype)
    if sp.issparse(matrix):
        return sp.csr_matrix(matrix @ sp.diags(factor))
    return matrix * factor
