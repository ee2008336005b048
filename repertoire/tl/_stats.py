"""Statistics for cohorts of few patients: the patient is the unit, tests are exact.

- :func:`wilson_interval`: confidence interval of a proportion (Wilson, J Am Stat Assoc 1927).
- :func:`empirical_logit`: log-odds of a proportion with an offset, finite at 0 and 1.
- :func:`label_permutation_test`: difference in group means, exact over every relabeling of
  the groups (C(11, 2) = 55 for 2 relapses among 11 patients), with the minimum attainable p.
- :func:`sign_flip_test`: mean of paired within-patient differences, exact over every sign
  pattern (2**11 = 2048 for 11 patients), with the minimum attainable p.
- :func:`bootstrap_interval`: percentile interval of a statistic, resampling patients (each
  group on its own) with replacement.
- :func:`benjamini_hochberg`: q-values controlling the false discovery rate over a family of
  tests (Benjamini and Hochberg, J R Stat Soc B 1995).

Cells are pseudo-replicates (Squair et al., Nat Commun 2021; Zimmerman et al., Nat Commun
2021): aggregate to one value per patient before calling any test here.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

from .._errors import InputError

ALTERNATIVES = ("two-sided", "greater", "less")
MAX_EXACT = 1_000_000  # relabelings or sign patterns enumerated; beyond this, random draws
N_RANDOM = 100_000
# statistics closer than this (relative to their scale) count as ties
_TIE_TOLERANCE = 1e-9


@dataclass(frozen=True)
class PermutationResult:
    """Result of a permutation test.

    ``p_min`` is the smallest p-value any relabeling of these data could give: with 2 of 11
    patients relapsing no result can be more significant than ``1/55``.
    """

    statistic: float
    pvalue: float
    p_min: float
    n_permutations: int
    exact: bool


def wilson_interval(
    successes: np.ndarray | float, trials: np.ndarray | float, confidence: float = 0.95
) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval of ``successes / trials``; NaN where ``trials`` is 0."""
    k = np.asarray(successes, dtype=float)
    n = np.asarray(trials, dtype=float)
    z = stats.norm.ppf(0.5 + confidence / 2)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = k / n
        denominator = 1 + z**2 / n
        centre = (p + z**2 / (2 * n)) / denominator
        half = z * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2)) / denominator
        low = np.where(n > 0, np.clip(centre - half, 0.0, p), np.nan)
        high = np.where(n > 0, np.clip(centre + half, p, 1.0), np.nan)
    return low, high


def empirical_logit(
    successes: np.ndarray | float, trials: np.ndarray | float, offset: float = 0.5
) -> np.ndarray:
    """``log((k + offset) / (n - k + offset))``; NaN where ``trials`` is 0."""
    k = np.asarray(successes, dtype=float)
    n = np.asarray(trials, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, np.log((k + offset) / (n - k + offset)), np.nan)


def _check_alternative(alternative: str) -> None:
    if alternative not in ALTERNATIVES:
        raise InputError(
            f"alternative '{alternative}' is not one of {', '.join(ALTERNATIVES)}."
        )


def _pvalues(null: np.ndarray, observed: float, alternative: str) -> tuple[float, float]:
    """P of ``observed`` and the smallest p any member of ``null`` would get, ties included."""
    tolerance = _TIE_TOLERANCE * max(1.0, float(np.max(np.abs(null))))
    if alternative == "two-sided":
        null = np.abs(null)
        observed = abs(observed)
    elif alternative == "less":
        null = -null
        observed = -observed
    pvalue = float(np.mean(null >= observed - tolerance))
    p_min = float(np.mean(null >= null.max() - tolerance))
    return pvalue, p_min


def relabelings(
    labels: np.ndarray, *, max_exact: int = MAX_EXACT, n_random: int = N_RANDOM,
    random_state: int = 0,
) -> tuple[np.ndarray, bool]:
    """Return the relabelings of the units that a permutation test compares with ``labels``.

    One boolean row per relabeling: every way of choosing ``sum(labels)`` of the units as the
    group when there are at most ``max_exact`` of them (``exact`` is ``True``), otherwise the
    observed labeling and ``n_random`` random ones (seeded).
    """
    labels = np.asarray(labels, dtype=bool)
    n, k = len(labels), int(labels.sum())
    total = math.comb(n, k)
    if total <= max_exact:
        members = np.zeros((total, n), dtype=bool)
        for row, chosen in enumerate(itertools.combinations(range(n), k)):
            members[row, list(chosen)] = True
        return members, True
    rng = np.random.default_rng(random_state)
    order = np.argsort(rng.random((n_random, n)), axis=1)
    members = np.zeros((n_random, n), dtype=bool)
    np.put_along_axis(members, order[:, :k], True, axis=1)
    return np.vstack([labels, members]), False


def label_permutation_test(
    values: Sequence[float] | np.ndarray,
    in_group: Sequence[bool] | np.ndarray,
    *,
    alternative: str = "two-sided",
    max_exact: int = MAX_EXACT,
    n_random: int = N_RANDOM,
    random_state: int = 0,
) -> PermutationResult:
    """Test the difference of means ``mean(group) - mean(rest)`` by relabeling.

    Every way of choosing ``sum(in_group)`` of the ``len(values)`` units as the group is
    enumerated when there are at most ``max_exact`` of them; otherwise ``n_random`` random
    relabelings are drawn (seeded) and ``exact`` is ``False``. The p-value counts relabelings
    at least as extreme as the observed one, the observed labeling included.
    """
    _check_alternative(alternative)
    x = np.asarray(values, dtype=float)
    labels = np.asarray(in_group, dtype=bool)
    n, k = len(x), int(labels.sum())
    if k == 0 or k == n:
        raise InputError("both groups need at least one patient for a permutation test.")
    if np.isnan(x).any():
        raise InputError("values hold NaN; drop patients without a value first.")
    members, exact = relabelings(labels, max_exact=max_exact, n_random=n_random,
                                 random_state=random_state)
    null = (members @ x) / k - (~members @ x) / (n - k)
    observed = float(x[labels].mean() - x[~labels].mean())
    pvalue, p_min = _pvalues(null, observed, alternative)
    return PermutationResult(observed, pvalue, p_min, len(members), exact)


def sign_flip_test(
    differences: Sequence[float] | np.ndarray,
    *,
    alternative: str = "two-sided",
    max_exact: int = MAX_EXACT,
    n_random: int = N_RANDOM,
    random_state: int = 0,
) -> PermutationResult:
    """Test whether paired differences (after minus before, one per patient) centre on zero.

    Under the null each patient's change is as likely to have either sign, so every pattern of
    signs is equally likely: all ``2**n`` are enumerated when there are at most ``max_exact``,
    otherwise ``n_random`` random patterns are drawn (seeded). The statistic is the mean
    difference.
    """
    _check_alternative(alternative)
    d = np.asarray(differences, dtype=float)
    n = len(d)
    if n == 0:
        raise InputError("no paired differences to test.")
    if np.isnan(d).any():
        raise InputError("differences hold NaN; drop patients without both values first.")
    exact = 2**n <= max_exact
    if exact:
        bits = (np.arange(2**n)[:, None] >> np.arange(n)[None, :]) & 1
        signs = 1 - 2 * bits
    else:
        rng = np.random.default_rng(random_state)
        signs = np.vstack([np.ones(n), rng.choice([-1.0, 1.0], size=(n_random, n))])
    null = signs @ d / n
    observed = float(d.mean())
    pvalue, p_min = _pvalues(null, observed, alternative)
    return PermutationResult(observed, pvalue, p_min, len(signs), exact)


def bootstrap_interval(
    groups: Sequence[np.ndarray],
    statistic: Callable[..., np.ndarray],
    *,
    n_boot: int = 2000,
    confidence: float = 0.95,
    random_state: int = 0,
) -> tuple[float, float]:
    """Percentile interval of ``statistic(*groups)`` over patient-level bootstrap resamples.

    Each group (for example the relapse and the remission patients) is resampled with
    replacement on its own, keeping its size. ``statistic`` receives one array per group of
    shape ``(n_boot, group size)`` and reduces the last axis (``lambda a, b: a.mean(-1) -
    b.mean(-1)``), so all resamples are computed at once. NaN when a group is empty.
    """
    rng = np.random.default_rng(random_state)
    arrays = [np.asarray(g, dtype=float) for g in groups]
    if any(len(a) == 0 for a in arrays):
        return np.nan, np.nan
    resampled = [a[rng.integers(0, len(a), (n_boot, len(a)))] for a in arrays]
    draws = np.asarray(statistic(*resampled), dtype=float)
    tail = (1 - confidence) / 2
    low, high = np.quantile(draws, [tail, 1 - tail])
    return float(low), float(high)


def benjamini_hochberg(pvalues: Sequence[float] | np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg q-values of ``pvalues``; NaN stays NaN and is not counted as a test.

    With ``m`` tests sorted ``p(1) <= ... <= p(m)``, ``q(i) = min over j >= i of m p(j) / j``,
    capped at 1 (Benjamini and Hochberg, J R Stat Soc B 1995), as
    :func:`scipy.stats.false_discovery_control` computes it.
    """
    p = np.asarray(pvalues, dtype=float)
    q = np.full(p.shape, np.nan)
    tested = ~np.isnan(p)
    if tested.any():
        q[tested] = stats.false_discovery_control(p[tested], method="bh")
    return q
