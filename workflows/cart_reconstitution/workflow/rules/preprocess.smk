rule preprocess:
    # lint "Specify a conda environment or container": none on purpose (see the Snakefile)
    input:
        rules.merge.output.cohort,
    output:
        cohort=result("cohort_clustered.h5ad"),
        tables=step_tables("preprocess"),
        figures=step_figures("preprocess"),
    log:
        result("logs/preprocess.log"),
    params:
        python=python(),
        outputs=step_options,
        resolutions=" ".join(str(r) for r in config["preprocess"]["resolutions"]),
        n_top_genes=config["preprocess"]["n_top_genes"],
        n_comps=config["preprocess"]["n_comps"],
        integrate="" if config["preprocess"]["integrate"] else "--no-integrate",
        seed=config["preprocess"]["seed"],
    threads: 4
    resources:
        mem_mb=scaled(8000, per_mb=8),
        runtime=scaled(120, per_mb=RUNTIME_PER_MB),
    benchmark:
        result("benchmarks/preprocess.tsv")
    shell:
        "{params.python:q} -m repertoire preprocess {input:q} {output.cohort:q} {params.outputs}"
        " --resolutions {params.resolutions} --n-top-genes {params.n_top_genes}"
        " --n-comps {params.n_comps} {params.integrate} --seed {params.seed}"
        " --threads {threads} 2> {log:q}"
