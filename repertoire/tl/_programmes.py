"""Communication programmes: interactions that rise and fall together across samples (NMF)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from anndata import AnnData

from .. import _keys as K
from .._docs import doc_params
from .._errors import InputError
from .._logging import logger
from .._utils import one_batch, require_result, sample_metadata, store

TOP_INTERACTIONS = 10
FEATURE = ("source", "target", "interaction")


@doc_params
@one_batch("sample_key")
def communication_programmes(
    adata: AnnData,
    *,
    n_programmes: int = 6,
    communication_key: str = K.COMMUNICATION,
    sample_key: str = K.SAMPLE,
    n_top: int = TOP_INTERACTIONS,
    max_iter: int = 2000,
    seed: int = 0,
    key_added: str = K.PROGRAMMES,
    inplace: bool = True,
) -> dict[str, pd.DataFrame] | None:
    """Find communication programmes: sets of interactions that vary together across samples.

    Beside the named niches, a data-driven view: the samples x (sender, receiver, interaction)
    matrix of CellPhoneDB statistics (``mean`` of :func:`repertoire.tl.communication`, where
    the pair was tested in the sample, else 0: an untested or absent pair carries no signal) is
    factorised by non-negative matrix factorisation (:class:`sklearn.decomposition.NMF`,
    ``nndsvda`` initialisation, seeded, so the same data and seed give the same programmes):
    ``matrix ~ scores @ weights``. A sample's programme score says how much of the programme it
    holds; a programme's weights say which interactions make it. Programmes are numbered by
    their total score over the samples, largest first. A sample with no tested pair scores 0 on
    every programme. Programme scores are per-sample values, to be compared between outcomes
    with :func:`repertoire.tl.compare_outcomes`, one value per patient.

    Parameters
    ----------
    {adata}
        After :func:`repertoire.tl.communication` with ``sample_key``.
    n_programmes
        Number of programmes (fewer when there are fewer samples or features).
    communication_key
        Key of the communication results in ``.uns``.
    sample_key
        Column of ``.obs`` naming each cell's sample. Absent from ``.obs`` (one sample on its
        own), all cells are one sample, ``"all"``.
    n_top
        Interactions listed per programme in the ``programmes`` table.
    max_iter
        Iterations of the factorisation.
    seed
        Seed of the factorisation.
    {key_added}
    {inplace}

    Returns
    -------
    With ``inplace=False``, a dict of two tables; otherwise ``None`` and they go to
    ``.uns[key_added]`` beside ``params``: ``samples`` (one row per sample and programme:
    ``sample_key`` with the sample's metadata, ``programme``, ``score``) and ``programmes``
    (per programme its ``n_top`` heaviest features: ``programme``, ``rank``, ``source``,
    ``target``, ``interaction``, ``ligand``, ``receptor``, ``weight``, and ``share``, the
    feature's part of the programme's total weight).
    """
    from sklearn.decomposition import NMF

    pairs = require_result(adata, communication_key, K.TABLE_INTERACTIONS,
                           "repertoire.tl.communication")
    params = require_result(adata, communication_key, K.PARAMS, "repertoire.tl.communication")
    if params.get("sample_key") != sample_key:
        raise InputError(
            f"communication in .uns['{communication_key}'] was scored with sample_key "
            f"{params.get('sample_key')!r}, not '{sample_key}'."
        )
    if n_programmes < 1:
        raise InputError(f"n_programmes must be at least 1 (got {n_programmes}).")
    metadata = sample_metadata(adata.obs, sample_key)
    samples = metadata[sample_key].tolist()
    tested = pairs[pairs["tested"].astype(bool)]
    matrix = tested.pivot_table(index=K.SAMPLE, columns=list(FEATURE), values="mean",
                                aggfunc="first", observed=True)
    matrix = matrix.reindex(index=samples).fillna(0.0)
    matrix = matrix.loc[:, (matrix > 0).any(axis=0)]
    n = min(n_programmes, *matrix.shape)
    if n < 1:
        logger.warning("communication programmes: no tested interaction in any sample")
        scores = np.zeros((len(samples), 0))
        weights = np.zeros((0, matrix.shape[1]))
    else:
        model = NMF(n_components=n, init="nndsvda", random_state=seed, max_iter=max_iter)
        scores = model.fit_transform(matrix.to_numpy())
        weights = model.components_
        order = np.argsort(-scores.sum(axis=0), kind="stable")
        scores, weights = scores[:, order], weights[order]
        logger.info("communication programmes: %d of %d samples x %d features, "
                    "reconstruction error %.3g", n, len(samples), matrix.shape[1],
                    model.reconstruction_err_)
    names = [f"P{i + 1}" for i in range(scores.shape[1])]
    sample_table = pd.DataFrame(scores, columns=names).assign(**{sample_key: samples})
    sample_table = sample_table.melt(id_vars=sample_key, var_name="programme",
                                     value_name="score")
    sample_table = metadata.merge(sample_table, on=sample_key, how="right")
    features = matrix.columns.to_frame(index=False)
    labels = (tested.drop_duplicates("interaction").set_index("interaction")[["ligand", "receptor"]]
              .astype(str))
    rows = []
    for name, weight in zip(names, weights, strict=True):
        top = np.argsort(-weight, kind="stable")[:n_top]
        total = weight.sum()
        for rank, column in enumerate(top, start=1):
            feature = features.iloc[column]
            rows.append({"programme": name, "rank": rank,
                         **{k: str(feature[k]) for k in FEATURE},
                         **labels.loc[str(feature["interaction"])].to_dict(),
                         "weight": float(weight[column]),
                         "share": float(weight[column] / total) if total else np.nan})
    programmes = pd.DataFrame(rows, columns=["programme", "rank", *FEATURE, "ligand",
                                             "receptor", "weight", "share"])
    tables = {K.TABLE_SAMPLES: sample_table, K.TABLE_PROGRAMMES: programmes}
    return store(
        adata, key_added, inplace=inplace, result=tables, tables=tables,
        params={"n_programmes": n_programmes, "communication_key": communication_key,
                "sample_key": sample_key, "n_top": n_top, "max_iter": max_iter, "seed": seed,
                "init": "nndsvda", "n_features": int(matrix.shape[1])},
    )
