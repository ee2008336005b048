"""From counts to a neighbour graph and UMAP in one call."""

from __future__ import annotations

from anndata import AnnData

from .. import _keys as K
from .._docs import doc_params
from .._logging import logger
from .._utils import batches, store
from . import _integrate
from ._hvg import highly_variable_genes
from ._neighbors import neighbors
from ._normalize import normalize
from ._pca import pca
from ._umap import umap


@doc_params
def preprocess(
    adata: AnnData,
    *,
    batch_key: str | None = K.SAMPLE,
    layer: str | None = K.COUNTS,
    target_sum: float = 1e4,
    n_top_genes: int = 2000,
    n_comps: int = 50,
    scale: bool = False,
    integrate: bool = True,
    n_neighbors: int = 15,
    random_state: int = 0,
    inplace: bool = True,
) -> AnnData | None:
    """Normalise, select genes, reduce, integrate samples, build the graph and the UMAP.

    Runs :func:`normalize`, :func:`highly_variable_genes`, :func:`pca`, :func:`integrate`
    (Harmony over ``batch_key``, skipped with one batch), :func:`neighbors` and
    :func:`umap`. Clustering follows with :func:`repertoire.tl.cluster`.

    Parameters
    ----------
    {adata}
    {batch_key}
    {counts_layer}
    target_sum
        See :func:`normalize`.
    n_top_genes
        See :func:`highly_variable_genes`.
    n_comps, scale
        See :func:`pca`.
    integrate
        Correct sample effects with Harmony; the graph is built on the corrected embedding.
    n_neighbors
        See :func:`neighbors`.
    {random_state}
    inplace
        Write into ``adata`` (and return ``None``); otherwise process a copy and return it.

    Returns
    -------
    With ``inplace=False``, a processed copy of ``adata``. Otherwise ``None``. Either way the
    object gains ``.X`` (log-normalised), ``.uns["log1p"]``, ``.var["highly_variable"]`` and
    the other columns of :func:`highly_variable_genes`, ``.uns["hvg"]``, ``.obsm["X_pca"]``,
    ``.varm["PCs"]``, ``.uns["pca"]``, with integration ``.obsm["X_pca_harmony"]`` and
    ``.uns["X_pca_harmony"]``, ``.obsp["connectivities"]``, ``.obsp["distances"]``,
    ``.uns["neighbors"]``, ``.obsm["X_umap"]``, ``.uns["umap"]`` and ``.uns["preprocess"]``
    (the parameters).
    """
    if not inplace:
        adata = adata.copy()
    normalize(adata, layer=layer, target_sum=target_sum)
    highly_variable_genes(adata, n_top_genes=n_top_genes, batch_key=batch_key)
    pca(adata, n_comps=n_comps, scale=scale, random_state=random_state)
    use_rep = K.PCA
    n_batches = len(batches(adata.obs, batch_key).cat.categories)
    if integrate and n_batches > 1:
        _integrate.integrate(adata, batch_key=batch_key, random_state=random_state)
        use_rep = K.INTEGRATED
    neighbors(adata, use_rep=use_rep, n_neighbors=n_neighbors, random_state=random_state)
    umap(adata, random_state=random_state)
    store(adata, K.PREPROCESS, inplace=True, params={
        "batch_key": batch_key, "layer": layer, "target_sum": target_sum,
        "n_top_genes": n_top_genes, "n_comps": n_comps, "scale": scale, "integrate": integrate,
        "use_rep": use_rep, "n_neighbors": n_neighbors, "random_state": random_state,
    })
    logger.info("preprocessed %d cells x %d genes; graph on %s", adata.n_obs, adata.n_vars,
                use_rep)
    return None if inplace else adata
