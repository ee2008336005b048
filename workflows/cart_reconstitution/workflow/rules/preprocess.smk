rule preprocess:
    input:
        result("cohort_qc.h5ad"),
    output:
        cohort=result("cohort.h5ad"),
        clusters=result("tables/clusters_by_sample.tsv"),
        figures=expand(
            result("figures/{name}.{ext}"),
            name=FIGURES,
            ext=config["preprocess"]["figure_format"],
        ),
    log:
        result("logs/preprocess.log"),
    params:
        python=python(),
        figures=lambda wildcards, output: Path(output.figures[0]).parent,
        resolutions=" ".join(str(r) for r in config["preprocess"]["resolutions"]),
        n_top_genes=config["preprocess"]["n_top_genes"],
        n_comps=config["preprocess"]["n_comps"],
        integrate="" if config["preprocess"]["integrate"] else "--no-integrate",
        seed=config["preprocess"]["seed"],
        figure_format=config["preprocess"]["figure_format"],
    threads: 4
    resources:
        mem_mb=lambda wildcards, input: 8000 + 8 * int(input.size_mb),
        runtime=120,
    shell:
        "{params.python:q} -m repertoire preprocess {input:q} {output.cohort:q}"
        " --clusters {output.clusters:q} --figures {params.figures:q}"
        " --figure-format {params.figure_format} --resolutions {params.resolutions}"
        " --n-top-genes {params.n_top_genes} --n-comps {params.n_comps} {params.integrate}"
        " --seed {params.seed} --threads {threads} 2> {log:q}"
