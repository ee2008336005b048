"""The documentation site: built with warnings as errors, the tutorial executed with its
outputs, one API page per public name."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import repertoire as rp

DOCS = Path(__file__).resolve().parents[1] / "docs"
MODULES = (rp.io, rp.pp, rp.tl, rp.pl, rp.get, rp.report, rp.datasets)


def test_docs_build(tmp_path):
    html = tmp_path / "html"
    result = subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-b", "html", str(DOCS),
         str(html)],
        capture_output=True, text=True, timeout=1800, check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-5000:]

    # the tutorial was executed: its figures are in the page, and no cell failed or complained
    tutorial = (html / "tutorial.html").read_text(encoding="utf-8")
    images = re.findall(r'<img[^>]+src="(_images/[^"]+\.png)"', tutorial)
    assert len(images) >= 10, f"{len(images)} figures in the tutorial"
    assert all((html / image).is_file() for image in images)
    assert 'class="output text_html"' in tutorial  # tables as pandas renders them
    for failure in ("output traceback", "output error", "output stderr"):
        assert failure not in tutorial, f"the tutorial has an '{failure}' cell"

    # the API reference: one page per name in each public module's __all__
    missing = []
    for module in MODULES:
        page = html / "generated" / f"{module.__name__}.html"
        assert page.is_file(), f"no page for {module.__name__}"
        listing = page.read_text(encoding="utf-8")
        for name in module.__all__:
            target = f"{module.__name__}.{name}"
            item = html / "generated" / f"{target}.html"
            if not (item.is_file() and f'id="{target}"' in item.read_text(encoding="utf-8")
                    and f'href="{target}.html' in listing):
                missing.append(target)
    assert not missing, f"no API page for {missing}"
