rule annotate:
    input:
        cohort=result("cohort.h5ad"),
        # a user's marker panels: a changed file reruns the annotation
        markers=[config["annotate"]["markers"]] if config["annotate"]["markers"] else [],
    output:
        cohort=result("cohort_annotated.h5ad"),
        cell_types=result("tables/cell_types_by_sample.tsv"),
        markers=result("tables/annotation_markers.tsv"),
        car=result("tables/car_by_sample.tsv"),
        figures=expand(
            result("figures/{name}.{ext}"),
            name=ANNOTATE_FIGURES,
            ext=config["annotate"]["figure_format"],
        ),
    log:
        result("logs/annotate.log"),
    params:
        python=python(),
        figures=lambda wildcards, output: Path(output.figures[0]).parent,
        markers=lambda wildcards, input: (
            f"--markers {shlex.quote(input.markers[0])}" if input.markers else ""
        ),
        resolution=config["annotate"]["resolution"],
        subcluster_resolution=config["annotate"]["subcluster_resolution"],
        car_feature=config["annotate"]["car_feature"],
        car_alpha=config["annotate"]["car_alpha"],
        seed=config["annotate"]["seed"],
        figure_format=config["annotate"]["figure_format"],
    threads: 2
    resources:
        mem_mb=lambda wildcards, input: 8000 + 8 * int(input.size_mb),
        runtime=120,
    shell:
        "{params.python:q} -m repertoire annotate {input.cohort:q} {output.cohort:q} {params.markers}"
        " --cell-types {output.cell_types:q} --markers-table {output.markers:q}"
        " --car {output.car:q} --figures {params.figures:q}"
        " --figure-format {params.figure_format} --resolution {params.resolution}"
        " --subcluster-resolution {params.subcluster_resolution}"
        " --car-feature {params.car_feature:q} --car-alpha {params.car_alpha}"
        " --seed {params.seed} --threads {threads} 2> {log:q}"
