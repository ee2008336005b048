"""The browser check itself: it must see what a reader's browser would complain about."""

from __future__ import annotations

PIXEL = ("data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNk"
         "YAAAAAYAAjCB0C8AAAAASUVORK5CYII=")


def test_browser_sees_console_errors_failed_requests_and_broken_images(
        browser, tmp_path, test_output):
    broken = tmp_path / "broken.html"
    broken.write_text(
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>t</title></head><body>"
        f"<img alt='fine' src='{PIXEL}'><img alt='missing' src='missing.png'>"
        "<script>console.error('boom')</script></body></html>")
    seen = browser(broken, test_output / "browser" / "broken.png")
    assert "boom" in seen.console_errors
    assert any(url.endswith("missing.png") for url in seen.failed_requests)
    assert seen.n_images == 2
    assert seen.broken_images == ["missing"]
    assert seen.screenshot.stat().st_size > 0

    clean = tmp_path / "clean.html"
    clean.write_text("<!DOCTYPE html><html><head><meta charset='utf-8'><title>t</title></head>"
                     f"<body><img alt='fine' src='{PIXEL}'></body></html>")
    seen = browser(clean, test_output / "browser" / "clean.png")
    assert (seen.console_errors, seen.failed_requests, seen.broken_images) == ([], [], [])
