"""Do the niche scores find the simulator's relapse niches, and stay quiet without them?

Simulated cohorts of 11 patients (2 relapsing) are scored as the workflow scores them
(log-normalised expression, communication per sample, named niches, programmes, spatial niches,
patient-level outcome comparison), on the simulator's true cell types. With the niche signal on
(the simulator's default ``niche_strength=1``) the script reports, per seed, where ``T_B_help``
ranks among the niches in month-6 and month-12 blood and its p beside the smallest attainable
p, and the p of ``plasma_survival`` in month-6 marrow through its score, its parts and the
spatial distance of plasma cells to their senders. On null cohorts (``niche_strength=0``, the
same composition otherwise) it reports the share of post-infusion niche-score tests with
p <= 0.05 against what exact tests of 2 against 9 patients give by chance (2/55 = 0.036).

    .venv/bin/python benchmarks/niches_validation.py [--signal-seeds 1 2 3] [--null-seeds 10]
        [--cells 300] [--out results/niches_validation.tsv]
"""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

import repertoire as rp
from repertoire import _keys as K

# the routes by which plasma_survival may show in month-6 marrow: its score, its signalling
# parts, and the spatial distance of plasma cells to senders
PLASMA_MEASURES = (("niche", "plasma_survival", "score"),
                   ("niche", "plasma_survival", "expression"),
                   ("niche", "plasma_survival", "sender_expression"),
                   ("niche", "plasma_survival", "strength"),
                   ("niche", "plasma_survival", "receiver_fraction"),
                   ("plasma_cells_near_senders", "plasma_cells_near_senders", "distance_zscore"))


def analyse(seed: int, niche_strength: float, cells: int) -> pd.DataFrame:
    """One simulated cohort, scored on its true cell types; its niche outcome table."""
    adata = rp.datasets.simulate_cohort(11, 2, cells_per_sample=cells, seed=seed,
                                        niche_strength=niche_strength)
    adata = adata[~adata.obs[K.TRUE_DOUBLET].to_numpy()].copy()
    rp.pp.normalize(adata)
    rp.tl.communication(adata, K.TRUE_CELL_TYPE, sample_key=K.SAMPLE, n_perms=100)
    rp.tl.niche_scores(adata)
    rp.tl.communication_programmes(adata)
    rp.tl.spatial_niches(adata, K.TRUE_CELL_TYPE, n_perms=200)
    rp.tl.niche_outcomes(adata, n_boot=500)
    table = rp.get.niche_outcomes(adata)
    return table.assign(seed=seed, niche_strength=niche_strength)


def _after_infusion(table: pd.DataFrame) -> pd.DataFrame:
    return table[~table[K.TIMEPOINT].isin(["baseline", "infusion"])]


def report_signal(table: pd.DataFrame) -> None:
    scores = table[(table["family"] == "niche") & (table["measure"] == "score")]
    for seed, rows in scores.groupby("seed"):
        print(f"seed {seed}, niche strength 1:")
        for timepoint in ("M6", "M12"):
            blood = rows[(rows[K.TISSUE] == "blood") & (rows[K.TIMEPOINT] == timepoint)]
            help_row = blood[blood["feature"] == "T_B_help"].iloc[0]
            tied = blood[(blood["rank"] == help_row["rank"]) & (blood["feature"] != "T_B_help")]
            shared = f" (shared with {', '.join(tied['feature'])})" if len(tied) else ""
            print(f"  T_B_help, {timepoint} blood: rank {help_row['rank']}{shared} of {len(blood)} "
                  f"niches, p={help_row['p']:.3f} (min {help_row['p_min']:.3f}), "
                  f"effect {help_row['effect']:.4f} [{help_row['effect_lo']:.4f}, "
                  f"{help_row['effect_hi']:.4f}]")
        routes = _plasma_routes(table[table["seed"] == seed])
        parts = [f"{row['measure']} p={row['p']:.3f}" for _, row in routes.iterrows()]
        print(f"  plasma_survival, M6 marrow: {', '.join(parts)} (min "
              f"{routes['p_min'].min():.3f})")


def _plasma_routes(table: pd.DataFrame) -> pd.DataFrame:
    """Per seed, the smallest p of plasma_survival's routes in month-6 marrow."""
    marrow = table[(table[K.TISSUE] == "bone_marrow") & (table[K.TIMEPOINT] == "M6")]
    keep = np.zeros(len(marrow), dtype=bool)
    for family, feature, measure in PLASMA_MEASURES:
        keep |= ((marrow["family"] == family) & (marrow["feature"] == feature)
                 & (marrow["measure"] == measure)).to_numpy()
    return marrow[keep]


def report_null(table: pd.DataFrame) -> None:
    chance = 2 / 55
    after = _after_infusion(table[table["family"] == "niche"])
    seeds = table["seed"].nunique()
    for measure, tests in after.groupby("measure", sort=False):
        hits, n = int((tests["p"] <= 0.05).sum()), len(tests)
        low, high = stats.binomtest(hits, n).proportion_ci()
        print(f"null cohorts (niche strength 0), {seeds} seeds, niche {measure}: {hits} of {n} "
              f"post-infusion tests with p <= 0.05 = {hits / n:.3f} [{low:.3f}, {high:.3f}]; "
              f"chance with exact 2-vs-9 tests {chance:.3f}")
        if measure == "score":
            per_seed = tests.groupby("seed")["p"].apply(lambda p: (p <= 0.05).mean())
            print("  per seed: " + ", ".join(f"{s}: {v:.3f}" for s, v in per_seed.items()))
    routes = _plasma_routes(table).groupby("seed")["p"].min()
    print(f"  plasma_survival in M6 marrow, smallest p over its {len(PLASMA_MEASURES)} routes "
          f"<= 0.05 in {(routes <= 0.05).sum()} of {len(routes)} null seeds")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--signal-seeds", type=int, nargs="*", default=[1, 2, 3])
    parser.add_argument("--null-seeds", type=int, default=10)
    parser.add_argument("--cells", type=int, default=300, help="cells per sample")
    parser.add_argument("--out", type=Path, default=Path("results/niches_validation.tsv"))
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    tables = []
    runs = [(seed, 1.0) for seed in args.signal_seeds]
    runs += [(100 + seed, 0.0) for seed in range(args.null_seeds)]
    for seed, strength in runs:
        start = time.perf_counter()
        tables.append(analyse(seed, strength, args.cells))
        print(f"seed {seed} (niche strength {strength:g}): {time.perf_counter() - start:.0f} s",
              flush=True)
    table = pd.concat(tables, ignore_index=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(args.out, sep="\t", index=False)
    if args.signal_seeds:
        report_signal(table[table["niche_strength"] > 0])
    if args.null_seeds:
        report_null(table[table["niche_strength"] == 0])
    print(f"every test: {args.out}")


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
