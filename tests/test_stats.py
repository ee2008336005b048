"""The statistics module, against numbers worked out by hand and scipy."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from repertoire import InputError
from repertoire.tl._stats import (
    bootstrap_interval,
    empirical_logit,
    label_permutation_test,
    sign_flip_test,
    wilson_interval,
)


@pytest.mark.parametrize(("k", "n"), [(0, 10), (3, 10), (10, 10), (1, 1), (17, 230)])
def test_wilson_matches_scipy(k: int, n: int) -> None:
    low, high = wilson_interval(k, n)
    expected = stats.binomtest(k, n).proportion_ci(method="wilson")
    print(f"wilson {k}/{n}: ({float(low):.6f}, {float(high):.6f})")
    assert float(low) == pytest.approx(expected.low, abs=1e-12)
    assert float(high) == pytest.approx(expected.high, abs=1e-12)


def test_wilson_by_hand_and_empty() -> None:
    # k = 0, n = 10, z = 1.959964: upper = z^2 / (n + z^2) = 3.841459 / 13.841459
    z2 = stats.norm.ppf(0.975) ** 2
    low, high = wilson_interval(np.array([0, 0]), np.array([10, 0]))
    assert low[0] == 0.0
    assert high[0] == pytest.approx(z2 / (10 + z2), abs=1e-12)
    assert np.isnan(low[1])
    assert np.isnan(high[1])


def test_empirical_logit_by_hand() -> None:
    values = empirical_logit(np.array([2, 0, 10, 0]), np.array([10, 10, 10, 0]))
    assert values[0] == pytest.approx(math.log(2.5 / 8.5))
    assert values[1] == pytest.approx(math.log(0.5 / 10.5))
    assert values[2] == pytest.approx(math.log(10.5 / 0.5))
    assert np.isnan(values[3])


def test_label_permutation_by_hand() -> None:
    # groups of 2 among [0, 1, 2, 3]: mean differences 2, 1, 0, 0, -1, -2 over the 6 choices
    result = label_permutation_test([0, 1, 2, 3], [False, False, True, True],
                                    alternative="greater")
    assert result.statistic == 2.0
    assert result.n_permutations == 6
    assert result.exact
    assert result.pvalue == pytest.approx(1 / 6)
    assert result.p_min == pytest.approx(1 / 6)
    two_sided = label_permutation_test([0, 1, 2, 3], [False, False, True, True])
    assert two_sided.pvalue == pytest.approx(2 / 6)
    assert two_sided.p_min == pytest.approx(2 / 6)
    middle = label_permutation_test([0, 1, 2, 3], [False, True, False, True],
                                    alternative="greater")
    assert middle.statistic == 1.0
    assert middle.pvalue == pytest.approx(2 / 6)
    lower = label_permutation_test([0, 1, 2, 3], [True, True, False, False], alternative="less")
    assert lower.pvalue == pytest.approx(1 / 6)


def test_two_relapses_among_eleven_give_55_relabelings() -> None:
    values = np.arange(11.0)
    relapse = np.zeros(11, dtype=bool)
    relapse[[9, 10]] = True
    result = label_permutation_test(values, relapse, alternative="greater")
    print(f"2 of 11: {result.n_permutations} relabelings, p = {result.pvalue:.4f}, "
          f"p_min = {result.p_min:.4f}")
    assert result.n_permutations == math.comb(11, 2) == 55
    assert result.pvalue == pytest.approx(1 / 55)
    assert result.p_min == pytest.approx(1 / 55)


def test_sign_flip_by_hand() -> None:
    # sums of +-1 +-2 +-3: 6, 4, 2, 0, 0, -2, -4, -6
    greater = sign_flip_test([1, 2, 3], alternative="greater")
    assert greater.statistic == pytest.approx(2.0)
    assert greater.n_permutations == 8
    assert greater.pvalue == pytest.approx(1 / 8)
    two_sided = sign_flip_test([1, 2, 3])
    assert two_sided.pvalue == pytest.approx(2 / 8)
    assert two_sided.p_min == pytest.approx(2 / 8)
    mixed = sign_flip_test([1, -2, 3], alternative="greater")  # observed sum 2: 2, 4, 6 and 2
    assert mixed.pvalue == pytest.approx(3 / 8)
    eleven = sign_flip_test(np.arange(1.0, 12.0))
    print(f"11 patients: {eleven.n_permutations} sign patterns, p_min = {eleven.p_min:.5f}")
    assert eleven.n_permutations == 2048
    assert eleven.p_min == pytest.approx(2 / 2048)


def test_random_relabelings_approach_the_exact_p() -> None:
    rng = np.random.default_rng(1)
    values = rng.normal(size=14)
    group = np.zeros(14, dtype=bool)
    group[:5] = True
    values[:5] += 1.0
    exact = label_permutation_test(values, group)
    drawn = label_permutation_test(values, group, max_exact=10, n_random=20000)
    print(f"exact p {exact.pvalue:.4f}, from 20000 random relabelings {drawn.pvalue:.4f}")
    assert exact.exact
    assert not drawn.exact
    assert drawn.pvalue == pytest.approx(exact.pvalue, abs=0.01)
    flips = sign_flip_test(values, max_exact=10, n_random=20000)
    assert flips.pvalue == pytest.approx(sign_flip_test(values).pvalue, abs=0.01)


def test_tests_refuse_what_they_cannot_do() -> None:
    with pytest.raises(InputError, match="both groups"):
        label_permutation_test([1, 2], [True, True])
    with pytest.raises(InputError, match="NaN"):
        label_permutation_test([1, np.nan], [True, False])
    with pytest.raises(InputError, match="alternative"):
        sign_flip_test([1, 2], alternative="bigger")


def test_bootstrap_interval() -> None:
    def difference(a, b):
        return a.mean(axis=-1) - b.mean(axis=-1)

    # one patient per group: every resample is the observed difference
    assert bootstrap_interval([np.array([3.0]), np.array([1.0])], difference) == (2.0, 2.0)
    # two patients [0, 1]: resample means are 0, 0.5, 0.5, 1 with chances 1/4, 1/2, 1/4
    low, high = bootstrap_interval([np.array([0.0, 1.0])], lambda a: a.mean(axis=-1),
                                   n_boot=4000)
    assert (low, high) == (0.0, 1.0)
    narrow = bootstrap_interval([np.array([0.0, 1.0])], lambda a: a.mean(axis=-1),
                                n_boot=4000, confidence=0.4)
    assert narrow == (0.5, 0.5)
    again = bootstrap_interval([np.arange(6.0), np.arange(4.0)], difference, random_state=3)
    assert again == bootstrap_interval([np.arange(6.0), np.arange(4.0)], difference,
                                       random_state=3)
    assert np.isnan(bootstrap_interval([np.array([])], lambda a: a.mean(axis=-1))[0])
