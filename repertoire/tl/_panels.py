"""Marker panels matched to a matrix's genes and scored as mean signed z-scores."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

from ..resources import ALTERNATIVE

Z_MAX = 10.0  # z-scores are clipped here, as scanpy.pp.scale's max_value does


@dataclass(frozen=True)
class Panel:
    """A named panel: the lineage it belongs to and its positive and negative features."""

    name: str
    lineage: str
    positive: tuple[str, ...]
    negative: tuple[str, ...]


@dataclass(frozen=True)
class PanelSet:
    """Panels matched to a matrix: their features, columns, signed weights and coverage."""

    panels: tuple[Panel, ...]
    features: tuple[str, ...]
    columns: tuple[tuple[int, ...], ...]  # matrix columns of each feature (alternatives)
    weights: np.ndarray  # features x panels: +-1/n over the panel's features found
    coverage: np.ndarray  # share of each panel's features found
    missing: tuple[tuple[str, ...], ...]  # each panel's features not found

    @classmethod
    def match(cls, panels: list[Panel], index: dict[str, int]) -> PanelSet:
        """Find every panel's features among the genes of ``index``."""
        features = list(dict.fromkeys(f for p in panels for f in (*p.positive, *p.negative)))
        columns = tuple(
            tuple(index[g.upper()] for g in f.split(ALTERNATIVE) if g.upper() in index)
            for f in features
        )
        found = {f for f, c in zip(features, columns, strict=True) if c}
        weights = np.zeros((len(features), len(panels)))
        position = {f: i for i, f in enumerate(features)}
        coverage, missing = [], []
        for j, panel in enumerate(panels):
            signed = [(f, 1.0) for f in panel.positive] + [(f, -1.0) for f in panel.negative]
            present = [(f, s) for f, s in signed if f in found]
            for feature, sign in present:
                weights[position[feature], j] += sign / len(present)
            coverage.append(len(present) / len(signed))
            missing.append(tuple(f for f, _ in signed if f not in found))
        return cls(tuple(panels), tuple(features), columns, weights, np.array(coverage),
                   tuple(missing))

    @property
    def names(self) -> list[str]:
        """Panel names in order."""
        return [p.name for p in self.panels]

    def values(self, matrix: sp.spmatrix | np.ndarray) -> np.ndarray:
        """Cells x features expression; a feature of alternatives takes their highest value."""
        present = sorted({c for cols in self.columns for c in cols})
        block = matrix[:, present]
        block = block.toarray() if sp.issparse(block) else np.asarray(block)
        block = block.astype(np.float64)
        where = {c: i for i, c in enumerate(present)}
        out = np.zeros((matrix.shape[0], len(self.features)))
        for i, cols in enumerate(self.columns):
            if cols:
                out[:, i] = block[:, [where[c] for c in cols]].max(axis=1)
        return out

    def contributions(self, z: np.ndarray, panel: int) -> pd.Series:
        """Each feature's part in ``panel``'s score given mean z-scores ``z`` of a group."""
        weight = self.weights[:, panel]
        used = np.flatnonzero(weight)
        return pd.Series(z[used] * weight[used], index=[self.features[i] for i in used])


def zscore(values: np.ndarray) -> np.ndarray:
    """Standardise each column over the rows; constant columns become zero."""
    mean = values.mean(axis=0)
    std = values.std(axis=0)
    z = np.divide(values - mean, std, out=np.zeros_like(values), where=std > 0)
    return np.clip(z, -Z_MAX, Z_MAX)
