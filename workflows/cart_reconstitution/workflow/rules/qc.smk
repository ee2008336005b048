rule qc:
    # lint "Specify a conda environment or container": none on purpose (see the Snakefile)
    input:
        # the sheet's mtime is ignored; params.metadata reruns a sample whose row changed
        sheet=ancient(config["samples"]),
        data=sample_files,
    output:
        result("qc/{sample}.h5ad"),
    log:
        result("logs/qc/{sample}.log"),
    params:
        python=python(),
        metadata=sample_metadata,
        seed=config["qc"]["seed"],
    threads: 1
    resources:
        mem_mb=lambda wildcards, input, attempt: attempt * (2000 + 10 * int(input.size_mb)),
        runtime=lambda wildcards, attempt: 30 * attempt,
    benchmark:
        result("benchmarks/qc/{sample}.tsv")
    shell:
        "{params.python:q} -m repertoire qc --samplesheet {input.sheet:q}"
        " --sample {wildcards.sample:q} --seed {params.seed} --output {output:q} 2> {log:q}"


rule merge:
    # lint "Specify a conda environment or container": none on purpose (see the Snakefile)
    input:
        qc=expand(result("qc/{sample}.h5ad"), sample=SAMPLES.index),
    output:
        cohort=result("cohort_qc.h5ad"),
        tables=step_tables("merge"),
        figures=step_figures("merge"),
    log:
        result("logs/merge.log"),
    params:
        python=python(),
        outputs=step_options,
        keep_flagged="--keep-flagged" if config["qc"]["keep_flagged"] else "",
    threads: 1
    resources:
        mem_mb=lambda wildcards, input, attempt: attempt * (4000 + 4 * int(input.size_mb)),
        runtime=lambda wildcards, attempt: 60 * attempt,
    benchmark:
        result("benchmarks/merge.tsv")
    shell:
        "{params.python:q} -m repertoire merge --output {output.cohort:q} {params.outputs}"
        " {params.keep_flagged} {input.qc:q} 2> {log:q}"
