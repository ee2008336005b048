"""Per-patient HTML report: self-contained page, summary table, absent data, escaping, flags,
determinism."""

from __future__ import annotations

import hashlib
import re
from html.parser import HTMLParser

import numpy as np
import pandas as pd
import pytest
from markupsafe import escape

import repertoire as rp
from repertoire import _keys as K
from repertoire.report._flags import compute_flags

MAX_BYTES = 3 * 1024 * 1024
PAYLOADS = ("<script>alert(1)</script>", '"><img src=x onerror=alert(1)>')
BCR_UNS = (K.BCR_STATE, K.CLONE, K.CLONE_TRACKING, K.DIVERSITY)
BCR_OBS = (K.ISOTYPE, K.SHM_RATE, K.SHM_SOURCE, K.BCR_STATE, K.BCR_EVIDENCE, K.RECEPTOR_TYPE,
           K.CLONE, K.CLONE_SIZE, K.EXPANSION, K.PREEXISTING)


@pytest.fixture(scope="module")
def analysed():
    """Three patients (one relapsing), ~150 cells per sample, after QC, the BCR analysis,
    communication and niche scores. Cells carry the simulator's lineages and cell types (the
    report reads labels, it does not make them; annotating would triple the set-up time)."""
    adata = rp.datasets.simulate_cohort(3, 1, cells_per_sample=150, seed=11)
    rp.pp.qc(adata)
    rp.pp.filter_cells(adata)
    rp.pp.normalize(adata)
    adata.obs[K.LINEAGE] = adata.obs[K.TRUE_LINEAGE].astype("category")
    adata.obs[K.CELL_TYPE] = adata.obs[K.TRUE_CELL_TYPE].astype("category")
    rp.tl.detect_car(adata)
    rp.tl.bcr_state(adata)
    rp.tl.clonotypes(adata)
    rp.tl.diversity(adata)
    rp.tl.track_clones(adata)
    rp.tl.reconstitution(adata, n_boot=50)
    rp.tl.communication(adata, sample_key=K.SAMPLE, n_perms=50)
    rp.tl.niche_scores(adata)
    rp.tl.niche_outcomes(adata, n_boot=50)
    return adata


@pytest.fixture(scope="module")
def report(analysed, tmp_path_factory):
    """P03's (the relapsing patient's) report and its text."""
    path = rp.report.patient_report(analysed, "P03", tmp_path_factory.mktemp("report") / "P03.html")
    return path, path.read_text(encoding="utf-8")


class _Links(HTMLParser):
    """Every tag, and every src/href of the page."""

    def __init__(self):
        super().__init__()
        self.tags, self.sources, self.links = [], [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        attrs = dict(attrs)
        if tag == "img":
            self.sources.append(attrs.get("src") or "")
        for name in ("src", "href"):
            if name in attrs:
                self.links.append(attrs[name] or "")


def _parse(text: str) -> _Links:
    parser = _Links()
    parser.feed(text)
    parser.close()
    return parser


def _patient_samples(adata, patient: str) -> list[str]:
    obs = adata.obs[adata.obs[K.PATIENT].astype(str) == patient]
    return sorted(set(obs[K.SAMPLE].astype(str)))


# ---------------------------------------------------------------- the page


def test_page_is_self_contained_small_and_names_every_sample(analysed, report):
    path, text = report
    size = path.stat().st_size
    print(f"report size: {size / 1024:.0f} kB")
    assert size < MAX_BYTES
    parsed = _parse(text)
    assert {"html", "head", "body", "table", "img"} <= set(parsed.tags)
    assert len(parsed.sources) >= 3  # timeline, CAR kinetics, niches
    assert all(src.startswith("data:image/png;base64,") for src in parsed.sources)
    for link in parsed.links:
        assert link.startswith(("data:", "#")), link
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:|//)""", text)
    assert not re.search(r"url\(", text)
    assert "<script" not in text
    assert "<link" not in text
    assert "Patient P03" in text
    for sample in _patient_samples(analysed, "P03"):
        assert sample in text, sample
    # every in-page link points to an anchor that exists
    anchors = set(re.findall(r'id="([^"]+)"', text))
    for link in parsed.links:
        if link.startswith("#"):
            assert link[1:] in anchors, link


def test_templates_ship_as_package_data():
    from importlib.resources import files

    templates = files("repertoire.report") / "templates"
    assert (templates / "patient.html.j2").is_file()
    assert (templates / "report.css").is_file()


def test_methods_list_parameters_versions_and_inputs(report):
    _, text = report
    for step in (K.QC, K.RECONSTITUTION, K.NICHE_SCORES, K.CLONE_TRACKING):
        assert f"<summary>{step}</summary>" in text, step
    assert "aplasia_below" in text
    assert "n_boot" in text
    for package in ("repertoire", "scanpy", "anndata", "scirpy", "squidpy", "numpy"):
        assert re.search(rf"{package} \d", text), package
    assert "inputs not recorded" in text
    assert text.count("Generated ") == 1


def test_input_checksums_of_a_cohort_read_from_files(tmp_path):
    gex = tmp_path / "gex.h5ad"
    cells = rp.datasets.simulate_cohort(1, 1, cells_per_sample=40, seed=3)
    sample = cells[cells.obs[K.SAMPLE] == cells.obs[K.SAMPLE].iloc[0]]
    anndata = __import__("anndata")
    anndata.AnnData(X=sample.layers["counts"], var=sample.var[[]],
                    obs=sample.obs[[]].set_axis(sample.obs[K.BARCODE].astype(str))).write_h5ad(gex)
    sheet = tmp_path / "samples.tsv"
    sheet.write_text("sample_id\tpatient_id\ttimepoint\tday\ttissue\toutcome\tgex\n"
                     "S1\tP1\tbaseline\t-7\tblood\tremission\tgex.h5ad\n")
    adata = rp.io.read_cohort(sheet)
    files = rp.get.inputs(adata)
    assert files[[K.SAMPLE, "kind", "path"]].values.tolist() == [["S1", "gex", str(gex)]]
    assert files["sha256"].iloc[0] == hashlib.sha256(gex.read_bytes()).hexdigest()
    rp.pp.normalize(adata)
    text = rp.report.patient_report(adata, "P1", tmp_path / "P1.html").read_text()
    assert "inputs not recorded" not in text
    assert files["sha256"].iloc[0] in text


# ---------------------------------------------------------------- summary table


def test_summary_rows_equal_the_get_tables(analysed, report):
    path, _ = report
    summary = pd.read_csv(rp.report.summary_path(path, "P03"), sep="\t")
    assert list(summary.columns) == [K.PATIENT, "section", "metric", K.SAMPLE, K.TIMEPOINT,
                                     K.TISSUE, "value", "n"]
    assert set(summary[K.PATIENT]) == {"P03"}
    samples = _patient_samples(analysed, "P03")
    recon = rp.get.reconstitution(analysed)
    recon = recon[recon[K.PATIENT].astype(str) == "P03"].set_index(K.SAMPLE)
    rows = summary[summary["metric"] == "B_per_1000"].set_index(K.SAMPLE)
    assert sorted(rows.index) == samples
    np.testing.assert_allclose(rows["value"], recon.loc[rows.index, "B_per_1000"])
    kept = summary[summary["metric"] == "cells_kept"].set_index(K.SAMPLE)["value"]
    counts = analysed.obs[K.SAMPLE].astype(str).value_counts()
    assert sorted(kept.index) == samples
    assert (kept == counts.loc[kept.index]).all()
    qc = rp.get.qc(analysed).set_index(K.SAMPLE)
    doublets = summary[summary["metric"] == "doublets_removed"].set_index(K.SAMPLE)["value"]
    assert (doublets == qc.loc[doublets.index, "n_doublets"]).all()
    scores = rp.get.niche_scores(analysed)
    scores = scores[(scores[K.PATIENT].astype(str) == "P03") & scores["score"].notna()]
    niche = summary[summary["section"] == "niches"]
    assert len(niche) == len(scores)
    mine = scores.set_index([K.SAMPLE, scores["niche"].astype(str)])["score"]
    for _, row in niche.iterrows():
        assert row["value"] == pytest.approx(mine[(row[K.SAMPLE], row["metric"][len("niche_"):])])


# ---------------------------------------------------------------- absent data


def test_a_sample_without_b_cells_reads_as_aplasia(analysed, report):
    recon = rp.get.reconstitution(analysed)
    empty = recon[(recon[K.PATIENT].astype(str) == "P03") & (recon["n_B"] == 0)]
    assert not empty.empty  # the simulator's D14/D28 samples have no B cells
    _, text = report
    for sample in empty[K.SAMPLE].astype(str):
        assert f"{sample} ({empty.set_index(K.SAMPLE).loc[sample, K.TIMEPOINT]}): no B cells " \
               "found (aplasia)" in text


def test_a_patient_whose_b_cells_never_return(analysed, tmp_path):
    obs = analysed.obs
    gone = ((obs[K.PATIENT].astype(str) == "P02") & (obs[K.DAY] > 0)
            & obs[K.LINEAGE].astype(str).isin(K.B_LINEAGES))
    adata = analysed[~gone.to_numpy()].copy()
    rp.tl.reconstitution(adata, n_boot=20)
    text = rp.report.patient_report(adata, "P02", tmp_path / "P02.html").read_text()
    post = _patient_samples(adata, "P02")
    post = [s for s in post if "baseline" not in s]
    for sample in post:
        assert re.search(rf"{re.escape(sample)} \([^)]*\): no B cells found \(aplasia\)", text)
    assert "aplasia until M12 (the last sample" in text


def test_a_patient_whose_every_library_failed_qc(analysed, tmp_path):
    """QC flags every cell of P03's libraries, as it does for failed ones, and merge drops them:
    P03 still gets a page listing its samples, and the cohort page counts them."""
    adata = analysed[(analysed.obs[K.PATIENT].astype(str) != "P03").to_numpy()].copy()
    qc = adata.uns[K.QC][K.TABLE_SAMPLES]
    failed = (qc[K.PATIENT].astype(str) == "P03").to_numpy()
    qc.loc[failed, ["n_low_quality", "n_flagged"]] = qc.loc[
        failed, ["n_cells", "n_cells"]].to_numpy()
    samples = qc.loc[failed, K.SAMPLE].astype(str).tolist()
    rp.tl.reconstitution(adata, n_boot=20)
    page = rp.report.patient_report(adata, "P03", tmp_path / "P03.html").read_text()
    assert f"{len(samples)} samples" in page
    for sample in samples:
        assert f"{sample} (" in page
        assert "it is left out of every measure on this page" in page
    assert "Reconstitution" not in page
    summary = pd.read_csv(tmp_path / "P03.summary.tsv", sep="\t")
    kept = summary[summary["metric"] == "cells_kept"]
    assert sorted(kept[K.SAMPLE]) == sorted(samples)
    assert (kept["value"] == 0).all()
    cohort = rp.report.cohort_report(adata, tmp_path / "cohort.html").read_text()
    row = re.search(r'<a href="P03.html">P03</a></td>(.*?)</tr>', cohort, re.S)
    assert row is not None
    cells = re.findall(r"<td[^>]*>(.*?)</td>", row[1])
    assert cells[1:3] == [str(len(samples)), "0"]  # samples, cells
    assert f"{len(samples)} samples had no cell pass quality control" in cohort
    # a patient the cohort does not know at all is still the user's error
    with pytest.raises(rp.InputError, match="patient 'P99' is not in"):
        rp.report.patient_report(adata, "P99", tmp_path / "P99.html")


def test_a_patient_with_one_sample(analysed, tmp_path):
    one = analysed[(analysed.obs[K.SAMPLE].astype(str) == "P01_baseline_PB").to_numpy()].copy()
    text = rp.report.patient_report(one, "P01", tmp_path / "one.html").read_text()
    assert "This patient has one sample: there is no time course." in text
    assert "no time course to draw" in text


def test_a_cohort_without_marrow(analysed, report, tmp_path):
    blood = analysed[(analysed.obs[K.TISSUE].astype(str) == "blood").to_numpy()].copy()
    text = rp.report.patient_report(blood, "P03", tmp_path / "P03.html").read_text()
    assert "No bone-marrow sample" in text
    # the tables show the samples in .obs, not those of the results computed before subsetting
    assert "P03_M6_BM" not in text
    assert "No bone-marrow sample" not in report[1]


def test_a_cohort_without_bcr_and_without_niches(analysed, tmp_path):
    adata = analysed.copy()
    for key in (*BCR_UNS, K.NICHE_SCORES, K.NICHE_OUTCOMES, K.COMMUNICATION, K.CHAIN_INDICES):
        adata.uns.pop(key, None)
    for key in (K.AIRR, K.CHAIN_INDICES):
        adata.obsm.pop(key, None)
    adata.obs = adata.obs.drop(columns=[c for c in BCR_OBS if c in adata.obs])
    rp.tl.reconstitution(adata, n_boot=20)
    path = rp.report.patient_report(adata, "P01", tmp_path / "P01.html")
    text = path.read_text()
    assert "No BCR data in this cohort" in text
    assert "No niche scores in this cohort" in text
    assert "receptor types not recorded" in text
    summary = pd.read_csv(rp.report.summary_path(path, "P01"), sep="\t")
    assert not summary["section"].isin(["bcr", "niches"]).any()


# ---------------------------------------------------------------- escaping


def _rename(adata, column: str, old: str, new: str) -> None:
    """Rename one value of an ``.obs`` column, and in every table of ``.uns`` (a test may look
    at the layouts the report must not)."""
    if column in adata.obs:
        adata.obs[column] = adata.obs[column].cat.rename_categories({old: new})

    def walk(entry):
        for value in entry.values():
            if isinstance(value, pd.DataFrame) and column in value:
                values = value[column]
                if isinstance(values.dtype, pd.CategoricalDtype):
                    if old in values.cat.categories:
                        value[column] = values.cat.rename_categories({old: new})
                else:
                    value[column] = values.replace({old: new})
            elif isinstance(value, dict):
                walk(value)

    walk(adata.uns)


def test_user_strings_are_escaped(analysed, tmp_path):
    adata = analysed.copy()
    patient, sample = PAYLOADS
    _rename(adata, K.PATIENT, "P03", patient)
    _rename(adata, K.SAMPLE, "P03_M6_PB", sample)
    _rename(adata, K.TIMEPOINT, "relapse", PAYLOADS[0] + "tp")
    # a cell type the clone table shows: that of a baseline clone's cell after infusion
    seen = rp.get.clone_tracking(adata, "occurrences")
    seen = seen[(seen[K.PATIENT].astype(str) == patient) & (seen["phase"] != "baseline")]
    assert not seen.empty
    _rename(adata, K.CELL_TYPE, str(seen[K.CELL_TYPE].iloc[0]), PAYLOADS[1] + "ct")
    # a label of a user's niche file, an input path and a configured value
    niche = PAYLOADS[0] + "niche"
    tested = rp.get.niche_outcomes(adata).query("family == 'niche' and n_case > 0")
    top = str(tested.sort_values(["p", "rank"])["feature"].iloc[0])  # named on the cohort page
    _rename(adata, "niche", top, niche)
    _rename(adata, "feature", top, niche)
    definitions = adata.uns[K.NICHE_SCORES][K.PARAMS]["niches"]
    definitions[niche] = definitions.pop(top)
    adata.uns[K.INPUTS] = {K.TABLE_FILES: pd.DataFrame({
        K.SAMPLE: [sample], "kind": ["gex"], "path": [PAYLOADS[1] + "/gex.h5"],
        "sha256": ["0" * 64]})}
    adata.uns[K.QC][K.PARAMS]["batch_key"] = PAYLOADS[1] + "config"
    path = rp.report.patient_report(adata, patient, tmp_path / "escaped.html",
                                    cohort_page=PAYLOADS[1])
    cohort = rp.report.cohort_report(adata, tmp_path / "cohort.html")
    text, cohort_text = path.read_text(), cohort.read_text()
    for page in (text, cohort_text):
        for payload in PAYLOADS:
            assert payload not in page
        parsed = _parse(page)
        assert "script" not in parsed.tags
        assert all(src.startswith("data:image/png;base64,") for src in parsed.sources)
        assert str(escape(patient)) in page
        assert str(escape(PAYLOADS[1] + "config")) in page
    for shown in (sample, PAYLOADS[1] + "ct", PAYLOADS[1] + "/gex.h5", niche):
        assert str(escape(shown)) in text, shown
    assert str(escape(niche)) in cohort_text
    assert rp.report.summary_path(path, patient).is_file()
    assert rp.report.summary_path(path, patient).parent == tmp_path
    # the cohort page links the patient's page by a file name made safe, inside its folder
    hrefs = [h for h in _parse(cohort_text).links if not h.startswith(("#", "data:"))]
    assert rp.report.page_name(patient) in hrefs
    assert all("/" not in h and not h.startswith(".") for h in hrefs)


# ---------------------------------------------------------------- the cohort report


@pytest.fixture(scope="module")
def cohort_pages(analysed, tmp_path_factory):
    """Every patient's page and the cohort page, in one folder, as the workflow writes them."""
    folder = tmp_path_factory.mktemp("pages")
    for patient in ("P01", "P02", "P03"):
        rp.report.patient_report(analysed, patient, folder / f"{patient}.html",
                                 cohort_page="cohort.html")
    path = rp.report.cohort_report(analysed, folder / "cohort.html")
    return path, path.read_text(encoding="utf-8")


def test_cohort_page_links_every_patient_and_back(cohort_pages):
    path, text = cohort_pages
    assert path.stat().st_size < MAX_BYTES
    parsed = _parse(text)
    assert "<script" not in text
    assert all(src.startswith("data:image/png;base64,") for src in parsed.sources)
    pages = [link for link in parsed.links if not link.startswith(("#", "data:"))]
    assert sorted(set(pages)) == ["P01.html", "P02.html", "P03.html"]
    for page in pages:
        assert (path.parent / page).is_file()
        assert 'href="cohort.html"' in (path.parent / page).read_text()
    anchors = set(re.findall(r'id="([^"]+)"', text))
    assert all(link[1:] in anchors for link in parsed.links if link.startswith("#"))


def test_cohort_flags_are_each_patients_flags(analysed, cohort_pages):
    path, text = cohort_pages
    table = pd.read_csv(path.parent / "flags.tsv", sep="\t", keep_default_na=False)
    recon = rp.get.reconstitution(analysed)
    clones = rp.get.clone_tracking(analysed, "clones")
    scores = rp.get.niche_scores(analysed)
    for patient in ("P01", "P02", "P03"):
        expected = compute_flags(
            patient, samples=recon[recon[K.PATIENT].astype(str) == patient],
            clones=clones[clones[K.PATIENT].astype(str) == patient], niche_scores=scores,
            min_cells=10)
        mine = table[table[K.PATIENT] == patient]
        assert mine["flag"].tolist() == [f.name for f in expected], patient
        assert mine["text"].tolist() == [f.text for f in expected], patient
        for flag in expected:
            assert str(escape(flag.text)) in text
    assert (table[K.PATIENT] == "P03").sum() >= 3  # the relapsing patient is flagged most


def test_cohort_findings_count_patients_and_show_p_beside_p_min(analysed, cohort_pages):
    _, text = cohort_pages
    samples = rp.get.reconstitution(analysed)
    post = samples[(samples[K.DAY] > 0) & (samples[K.TISSUE].astype(str) == "blood")
                   & (samples["n_B_tx"] >= 10)]
    last = post.sort_values(K.DAY).groupby(K.PATIENT, observed=True).tail(1)
    for outcome in ("remission", "relapse"):
        group = last[last[K.OUTCOME].astype(str) == outcome]
        naive = int((group["frac_naive_tx"] > group["frac_memory_tx"]).sum())
        assert f"{naive} of {len(group)} {outcome} patient(s) returned naive-dominant" in text
    outcomes = rp.get.reconstitution(analysed, "outcomes")
    naive = outcomes[(outcomes["metric"] == "frac_naive_tx")
                     & (outcomes[K.TISSUE].astype(str) == "blood")]
    best = naive.sort_values(["p", "n_control"], ascending=[True, False]).iloc[0]
    assert f"clearest at {best[K.TIMEPOINT]}" in text
    assert f"exact p = {rp.report._html.number(best['p'])}, smallest attainable p = " \
           f"{rp.report._html.number(best['p_min'])}" in text
    # both outcome tables put p and p_min side by side
    assert text.count("<th>p</th><th>p_min</th>") == 2
    # three patients, one relapsing: nothing can reach p ≤ 0.05, and the page says why
    assert "not distinguishable at this cohort size" in text
    assert "No niche measure was higher in relapse at p ≤ 0.05" in text


def test_cohort_page_without_niches_says_so(analysed, tmp_path):
    adata = analysed.copy()
    for key in (K.NICHE_SCORES, K.NICHE_OUTCOMES):
        del adata.uns[key]
    text = rp.report.cohort_report(adata, tmp_path / "cohort.html").read_text()
    assert "Niche outcomes not computed" in text
    assert "Finding 1" in text


# ---------------------------------------------------------------- flags


def _samples(**columns) -> pd.DataFrame:
    base = {K.SAMPLE: ["S_base", "S_M6"], K.PATIENT: ["P"] * 2, K.TIMEPOINT: ["baseline", "M6"],
            K.DAY: [-7, 180], K.TISSUE: ["blood"] * 2, "aplasia": [False, False]}
    return pd.DataFrame({**base, **columns})


def test_memory_dominant_flag_fires_on_a_post_infusion_memory_majority():
    samples = _samples(frac_memory_tx=[0.2, 0.7], frac_naive_tx=[0.8, 0.3], n_B_tx=[50, 20])
    found = compute_flags("P", samples=samples, clones=None, niche_scores=None, min_cells=10)
    assert [f.name for f in found] == ["memory_dominant"]
    assert found[0].text.startswith("memory-dominant reconstitution at M6")
    assert found[0].anchor == "reconstitution"
    # a stricter threshold silences it
    assert not compute_flags("P", samples=samples, clones=None, niche_scores=None, min_cells=10,
                             flags={"memory_over_naive": 3})


@pytest.mark.parametrize(("memory", "naive", "n_b"), [
    ([0.2, 0.3], [0.8, 0.7], [50, 20]),  # naive-dominant after infusion
    ([0.9, 0.3], [0.1, 0.7], [50, 20]),  # memory-dominant only at baseline
    ([0.2, 1.0], [0.8, 0.0], [50, 4]),  # too few B cells behind the fractions
])
def test_memory_dominant_flag_stays_quiet(memory, naive, n_b):
    samples = _samples(frac_memory_tx=memory, frac_naive_tx=naive, n_B_tx=n_b)
    assert not compute_flags("P", samples=samples, clones=None, niche_scores=None, min_cells=10)


def test_clone_aplasia_and_niche_flags():
    samples = _samples(aplasia=[False, True])
    clones = pd.DataFrame({"clone_id": ["c1", "c2"], "returned": [True, False],
                           "n_cells_after": [3, 0]})
    scores = pd.DataFrame({
        K.SAMPLE: ["a", "b", "c"], K.PATIENT: ["P", "R1", "R2"], K.TIMEPOINT: ["M6"] * 3,
        K.DAY: [180] * 3, K.TISSUE: ["blood"] * 3, K.OUTCOME: ["relapse", "remission", "remission"],
        "niche": ["T_B_help"] * 3, "score": [0.5, 0.2, 0.3]})
    found = compute_flags("P", samples=samples, clones=clones, niche_scores=scores, min_cells=10)
    assert [f.text.split(" (")[0] for f in found] == [
        "aplasia until M6", "baseline clones re-emerged",
        "T_B_help niche in the relapse range at M6",
    ]
    assert [f.anchor for f in found] == ["reconstitution", "bcr", "niches"]
    assert found[2].name == "niche_relapse_range:T_B_help"
    assert found[2].where == (("a", "M6"),)
    # a niche left out of FLAG_NICHES is not flagged
    other = scores.assign(niche="homing")
    assert not compute_flags("P", samples=samples.assign(aplasia=False), clones=None,
                             niche_scores=other, min_cells=10)
    scores.loc[0, "score"] = 0.25
    assert not compute_flags("P", samples=samples.assign(aplasia=False), clones=None,
                             niche_scores=scores, min_cells=10)


def test_unknown_flag_threshold_is_refused(analysed, tmp_path):
    with pytest.raises(rp.InputError, match="flag threshold 'memory'"):
        rp.report.patient_report(analysed, "P01", tmp_path / "x.html", flags={"memory": 1})
    assert not (tmp_path / "x.html").exists()
    with pytest.raises(rp.InputError, match="patient 'P99'"):
        rp.report.patient_report(analysed, "P99", tmp_path / "x.html")


# ---------------------------------------------------------------- determinism


def test_two_runs_differ_only_in_the_timestamp(analysed, report, tmp_path):
    _, first = report
    second = rp.report.patient_report(analysed, "P03", tmp_path / "P03.html").read_text()
    first, second = first.splitlines(), second.splitlines()
    assert len(first) == len(second)
    differ = [(a, b) for a, b in zip(first, second, strict=True) if a != b]
    assert len(differ) <= 1
    assert all("Generated" in a for a, _ in differ)


# ---------------------------------------------------------------- the report's plots


def test_timeline_hides_values_on_too_few_cells_and_orders_timepoints(analysed):
    import matplotlib.pyplot as plt

    few = rp.pl.reconstitution_timeline(analysed, "P03", min_cells=1, show=False)
    many = rp.pl.reconstitution_timeline(analysed, "P03", min_cells=10**6, show=False)
    ticks = [t.get_text() for t in few.axes[0].get_xticklabels()]
    assert ticks[:3] == ["baseline", "D14", "D28"]
    assert ticks.index("M3") < ticks.index("M6") < ticks.index("M12")
    # B cells per 1000 always drawn; no fraction drawn when no sample has enough B cells
    assert len(many.axes[0].containers) == 1
    assert all(not axis.containers for axis in many.axes[1:6])
    assert all(axis.containers for axis in few.axes[1:6])
    assert len(few.legends) == 1
    assert not any(axis.get_legend() for axis in few.axes)
    plt.close("all")


@pytest.mark.parametrize(("share", "text"), [
    (0.429, "43%"), (0.0526, "5.3%"), (0.0995, "10%"), (0.001, "0.1%"), (0.0, "0%"),
    (1.0, "100%"), (np.nan, "–"), (None, "–"), ("n<10", "n<10"),
])
def test_percent_reads_as_a_clinician_would_write_it(share, text):
    from repertoire.report._html import percent

    assert percent(share) == text
