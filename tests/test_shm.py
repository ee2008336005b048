"""Somatic hypermutation from each kind of alignment: Cell Ranger's AIRR table, ungapped and
IMGT-gapped alignments, against hand counts, real files and the simulator's truth."""

from __future__ import annotations

import logging
import shutil
import warnings
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd
import pytest
import scirpy as ir
from scipy.stats import spearmanr

import repertoire as rp
from repertoire import _keys as K
from repertoire.tl._receptor import primary_heavy_chains, primary_light_chains
from repertoire.tl._shm import (
    NOTE_LOW_IDENTITY,
    NOTE_NO_SEQUENCE,
    cellranger_v_mutation,
    chain_shm,
    ungapped_v_mutation,
)

SCIRPY_DATA = Path(ir.__file__).parent / "tests" / "data"
CELLRANGER_AIRR = SCIRPY_DATA / "airr" / "rearrangement_ig.tsv"
IGBLAST_AIRR = SCIRPY_DATA / "airr" / "issue_625.tsv"
SWITCHED = r"^IGH[GAE]"


def _read(path: Path) -> ad.AnnData:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return rp.io.read_vdj(path)


# Cell Ranger's airr_rearrangement.tsv ------------------------------------------------------------


def test_real_cell_ranger_contig_by_hand() -> None:
    """Contig 1 of a real Cell Ranger run (IGHV7-4-1, IgM), counted by hand."""
    contig = pd.read_csv(CELLRANGER_AIRR, sep="\t").iloc[0]
    sequence, germline = contig["sequence"], contig["germline_alignment"]
    assert contig["v_cigar"] == "49S353M166S"
    assert contig["v_sequence_start"] == 50
    # 49 nt of 5' UTR, then the leader ATGGACTGG...CACTCC (19 codons: MDWTWRILFLVAAATGAHS),
    # then FR1 codon 1 (QVQLVQSG); the germline carries the same 5' UTR, so no offset
    fr1 = 49 + 57
    assert sequence[49:52] == "ATG"
    assert sequence[fr1:fr1 + 9] == "CAGGTGCAG"
    assert germline[:fr1 + 9] == sequence[:fr1 + 9]
    cys_end = sequence.find(contig["junction"]) + 3  # through the Cys 104 codon (TGT)
    assert sequence[cys_end - 3:cys_end] == "TGT"
    v_region, germline_v = sequence[fr1:cys_end], germline[fr1:cys_end]
    assert len(v_region) == 288
    # one mismatch: ...CTGCAGATC A GCAGCCTAAAG (contig) against ...CTGCAGATC T GCAGC (germline)
    mismatches = [i for i, (a, b) in enumerate(zip(v_region, germline_v, strict=True)) if a != b]
    assert len(mismatches) == 1
    assert v_region[mismatches[0] - 6:mismatches[0] + 6] == "CAGATCAGCAGC"
    assert germline_v[mismatches[0] - 6:mismatches[0] + 6] == "CAGATCTGCAGC"
    rate, note = cellranger_v_mutation(
        sequence, germline, contig["v_cigar"], contig["v_sequence_start"] - 1,
        contig["v_sequence_end"], contig["junction"],
    )
    assert note is None
    assert rate == pytest.approx(1 / 288, abs=1e-12)


def test_real_cell_ranger_airr_file() -> None:
    """The whole file: two naive IgM cells, their heavy and light chains all near zero."""
    table = rp.tl.bcr_state(_read(CELLRANGER_AIRR), inplace=False)
    print(table.to_string())
    assert list(table[K.ISOTYPE].astype(str)) == ["IGHM", "IGHM"]
    assert (table[K.SHM_SOURCE] == "cellranger_germline").all()
    assert (table[K.SHM_SOURCE_LIGHT] == "cellranger_germline").all()
    # the second heavy chain differs from its germline only in the 5' UTR (skipped); the
    # light chains (IGKV3-20 with a germline 9 nt longer in front, IGLV3-1 without any 5' UTR)
    # match theirs from FR1 to Cys 104
    np.testing.assert_allclose(table[K.SHM_RATE], [1 / 288, 0.0], atol=0.005)
    np.testing.assert_allclose(table[K.SHM_RATE_LIGHT], [0.0, 0.0], atol=0.005)
    assert (table[K.BCR_STATE] == "naive_transitional").all()


def test_cigar_walk_leader_skip_and_a_foreign_germline() -> None:
    """A made-up contig with an insertion and a deletion in its V, worked out by hand."""
    utr, leader = "GGGGG", "ATG" + "CCA" * 3  # a 12-nt leader
    fr = "ACGTACGTAC" * 3  # 30 nt of V after the leader
    germline = "TT" + utr + leader + fr + "TGTGCG" + "AAAA"  # 2 extra nt of UTR in front
    # contig V: leader, 10 nt, an inserted GG, 10 nt, 2 germline nt deleted, 8 nt with one
    # mismatch (C -> A), then the Cys codon TGT
    v = leader + fr[:10] + "GG" + fr[10:20] + fr[22:25] + "A" + fr[26:] + "TGT"
    sequence = utr + v + "GCGCCC"
    junction = "TGTGCGCCC"
    cigar = f"{len(utr)}S{len(leader) + 10}M2I10M2D8M3M6S"
    rate, note = cellranger_v_mutation(sequence, germline, cigar, len(utr), len(utr) + len(v),
                                       junction, leader_length=len(leader))
    assert note is None
    # compared: 10 + 10 + 8 V positions and the Cys codon (31), one mismatch
    assert rate == pytest.approx(1 / 31)
    # a 3-nt longer leader skip leaves out 3 matching positions
    rate, _ = cellranger_v_mutation(sequence, germline, cigar, len(utr), len(utr) + len(v),
                                    junction, leader_length=len(leader) + 3)
    assert rate == pytest.approx(1 / 28)
    # the germline of another chain: identity of the V far below 0.7
    rate, note = cellranger_v_mutation(sequence, "C" * len(germline), cigar, len(utr),
                                       len(utr) + len(v), junction)
    assert np.isnan(rate)
    assert note == NOTE_LOW_IDENTITY


def test_simulated_cell_ranger_airr_against_the_truth(small_cohort, small_cohort_dir) -> None:
    """The cohort written as Cell Ranger writes it and read back through its vdj_b folders.

    The truth per chain: mismatches of the simulator's IMGT-gapped alignment in IMGT positions
    1-312 over the V's ungapped length (the positions FR1 codon 1 to Cys 104 hold), the rate
    Cell Ranger's germline gives when the leader is skipped exactly.
    """
    sheet = rp.io.read_samplesheet(small_cohort_dir / "samples.tsv")
    assert all(Path(p).is_dir() for p in sheet["bcr"])
    adata = rp.io.read_cohort(sheet)
    table = rp.tl.bcr_state(adata, inplace=False)
    truth = {
        "heavy": primary_heavy_chains(small_cohort, ["sequence_alignment", "germline_alignment"]),
        "light": primary_light_chains(small_cohort, ["sequence_alignment", "germline_alignment"]),
    }
    errors = {}
    for chain, rate, source in (("heavy", K.SHM_RATE, K.SHM_SOURCE),
                                ("light", K.SHM_RATE_LIGHT, K.SHM_SOURCE_LIGHT)):
        expected = truth[chain].apply(_v_part_rate, axis=1).reindex(adata.obs_names)
        measured = table[expected.notna()]
        assert (measured[source] == "cellranger_germline").all()
        errors[chain] = (measured[rate] - expected[expected.notna()]).abs()
        print(f"{chain}: {len(measured)} chains, |Cell Ranger path - truth| median "
              f"{100 * errors[chain].median():.3f}, 95th percentile "
              f"{100 * errors[chain].quantile(0.95):.3f}, max {100 * errors[chain].max():.3f} "
              "percentage points")
        assert errors[chain].max() < 0.005
    by_isotype = table.groupby(K.ISOTYPE, observed=True)[K.SHM_RATE].median()
    print(f"median heavy-chain SHM per isotype, %:\n{(100 * by_isotype).round(2).to_string()}")
    assert by_isotype[["IGHM", "IGHD"]].max() < 0.005
    switched = table[K.ISOTYPE].astype(str).str.match(SWITCHED)
    assert table.loc[switched, K.SHM_RATE].median() > 0.03
    both = table[[K.SHM_RATE, K.SHM_RATE_LIGHT]].dropna()
    rho = spearmanr(both[K.SHM_RATE], both[K.SHM_RATE_LIGHT])[0]
    print(f"light against heavy chain of the same cell: Spearman {rho:.2f} on {len(both)} cells")
    assert rho > 0.6


def _v_part_rate(chain: pd.Series) -> float:
    sequence, germline = chain["sequence_alignment"], chain["germline_alignment"]
    if not isinstance(sequence, str):
        return np.nan
    positions = [i for i in range(312) if germline[i] != "."]
    return sum(sequence[i] != germline[i] for i in positions) / len(positions)


def test_contig_csv_alone_says_shm_needs_the_airr_table(small_cohort_dir, tmp_path, caplog):
    sample = max(small_cohort_dir.glob("*_baseline_PB"),
                 key=lambda p: (p / "vdj_b" / "filtered_contig_annotations.csv").stat().st_size)
    folder = tmp_path / "vdj_b"
    folder.mkdir()
    shutil.copy(sample / "vdj_b" / "filtered_contig_annotations.csv", folder)
    with caplog.at_level(logging.INFO, logger="repertoire"):
        adata = _read(folder)
        result = rp.tl.bcr_state(adata, inplace=False)
        adata = adata.copy()
        rp.tl.bcr_state(adata)
    assert "reading filtered_contig_annotations.csv" in caplog.text
    assert "no airr_rearrangement.tsv" in caplog.text
    assert result[K.ISOTYPE].notna().sum() > 10
    assert result[K.SHM_RATE].isna().all()
    assert result[K.SHM_SOURCE].isna().all()
    sources = rp.get.bcr_states(adata, "shm")
    print(sources.to_string())
    heavy = sources[sources["chain"] == "heavy"].iloc[0]
    assert heavy[K.SHM_SOURCE] == "none"
    assert heavy["note"] == NOTE_NO_SEQUENCE
    assert heavy["n_chains"] == result[K.ISOTYPE].notna().sum()
    assert caplog.text.count(NOTE_NO_SEQUENCE) == 2  # once per call
    # with both files the folder's AIRR table wins
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="repertoire"):
        _read(sample / "vdj_b")
    assert "reading airr_rearrangement.tsv" in caplog.text


# ungapped and IMGT-gapped alignments -------------------------------------------------------------


def test_real_igblast_ungapped_alignments() -> None:
    """IgBLAST AIRR output without IMGT gaps: the V part through Cys 104, not scirpy's 312."""
    chains = pd.read_csv(IGBLAST_AIRR, sep="\t")
    first = chains.iloc[0]
    sequence, germline = first["sequence_alignment"], first["germline_alignment"]
    cys_end = sequence.find(first["junction"]) + 3
    assert cys_end == 261
    assert sequence[cys_end - 3:cys_end] == "TGT"
    by_hand = sum(a != b for a, b in zip(sequence[:cys_end], germline[:cys_end], strict=True))
    assert by_hand == 29
    assert ungapped_v_mutation(sequence, germline, first["junction"]) == pytest.approx(29 / 261)
    result = chain_shm(chains, "germline_alignment")
    aligned = chains["sequence_alignment"].notna()
    assert (result.loc[aligned, K.SHM_SOURCE] == "alignment_ungapped").all()
    assert (result.loc[~aligned, K.SHM_SOURCE] == "v_identity").all()  # one chain
    identity = 1 - chains["v_identity"] / 100
    gap = (result[K.SHM_RATE] - identity).abs()
    correlation = np.corrcoef(result[K.SHM_RATE], identity)[0, 1]
    print(f"{len(chains)} IgBLAST chains: V part to Cys 104 against 1 - v_identity (IgBLAST's "
          f"whole V alignment): correlation {correlation:.3f}, median gap "
          f"{100 * gap.median():.2f} percentage points")
    assert correlation > 0.95
    assert gap.median() < 0.01
    table = rp.tl.bcr_state(_read(IGBLAST_AIRR), inplace=False)
    sources = table[K.SHM_SOURCE].value_counts()
    assert sources["alignment_ungapped"] == 78  # of 79 heavy chains: one has no alignment
    assert sources["v_identity"] == 1
    assert table[K.SHM_RATE].notna().sum() == table[K.ISOTYPE].notna().sum()


def test_ungapped_simulated_alignments_against_the_v_part_count(small_cohort) -> None:
    chains = primary_heavy_chains(small_cohort, ["sequence_alignment", "germline_alignment",
                                                 "junction"]).dropna(subset=["chain"])
    ungapped = chains.copy()
    for row, chain in chains.iterrows():
        keep = [i for i, g in enumerate(chain["germline_alignment"]) if g != "."]
        for column in ("sequence_alignment", "germline_alignment"):
            ungapped.at[row, column] = "".join(chain[column][i] for i in keep)
    result = chain_shm(ungapped, "germline_alignment")
    expected = chains.apply(_v_part_rate, axis=1)
    assert (result[K.SHM_SOURCE] == "alignment_ungapped").all()
    np.testing.assert_allclose(result[K.SHM_RATE], expected, atol=1e-12)
    # the same chains IMGT-gapped: scirpy's rate over 312
    gapped = chain_shm(chains, "germline_alignment")
    assert (gapped[K.SHM_SOURCE] == "alignment").all()
    truth = small_cohort.obs.loc[chains.index, K.TRUE_SHM_RATE]
    assert truth.notna().sum() > 150
    np.testing.assert_allclose(gapped[K.SHM_RATE][truth.notna()], truth.dropna(), atol=1e-12)
