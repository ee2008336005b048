"""Sample integration of the principal components with Harmony."""

from __future__ import annotations

import numpy as np
from anndata import AnnData

from .. import _keys as K
from .._docs import doc_params
from .._errors import InputError
from .._logging import logger
from .._utils import batches, store


@doc_params
def integrate(
    adata: AnnData,
    *,
    batch_key: str = K.SAMPLE,
    basis: str = K.PCA,
    key_added: str = K.INTEGRATED,
    theta: float = 2.0,
    max_iter_harmony: int = 10,
    random_state: int = 0,
    inplace: bool = True,
) -> np.ndarray | None:
    """Remove sample effects from an embedding with Harmony (Korsunsky et al., Nat Methods 2019).

    Runs :func:`harmonypy.run_harmony`. With a single batch the embedding is returned unchanged.

    Parameters
    ----------
    {adata}
    batch_key
        Column of ``.obs`` holding the batches to align (samples by default; ``patient_id``
        keeps within-patient changes over time). Absent from ``.obs`` (one sample on its own),
        there is one batch and nothing to integrate.
    basis
        Embedding in ``.obsm`` to correct.
    {key_added}
    theta
        Harmony's diversity penalty; larger values mix batches more strongly.
    max_iter_harmony
        Maximum number of Harmony rounds.
    {random_state}
    {inplace}

    Returns
    -------
    With ``inplace=False``, the corrected embedding. Otherwise ``None``; it goes to
    ``.obsm[key_added]`` (``"X_pca_harmony"``) and ``.uns[key_added]["params"]`` records the
    arguments.
    """
    import harmonypy

    if basis not in adata.obsm:
        raise InputError(f"embedding '{basis}' is not in .obsm; run repertoire.pp.pca first.")
    labels = batches(adata.obs, batch_key)
    embedding = np.asarray(adata.obsm[basis], dtype=np.float64)
    if len(labels.cat.categories) < 2:
        logger.info("one batch in '%s': nothing to integrate", batch_key)
        corrected = embedding.copy()
    else:
        meta = labels.to_frame(name=batch_key).reset_index(drop=True)
        harmony = harmonypy.run_harmony(
            embedding, meta, batch_key, theta=theta, max_iter_harmony=max_iter_harmony,
            random_state=random_state, verbose=False,
        )
        corrected = np.asarray(harmony.Z_corr)
        if corrected.shape != embedding.shape:
            corrected = corrected.T
        logger.info("Harmony on '%s' over %d batches: %d rounds", basis,
                    len(labels.cat.categories), len(harmony.objective_harmony))
    corrected = corrected.astype(np.float32)
    return store(
        adata, key_added, inplace=inplace, result=corrected, obsm={key_added: corrected},
        params={"batch_key": batch_key, "basis": basis, "theta": theta,
                "max_iter_harmony": max_iter_harmony, "random_state": random_state},
    )
