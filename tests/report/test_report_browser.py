"""Open a real report in headless Chromium: it renders, every image decodes, no console errors.

Skips when Chromium is not installed, unless CI is set (CI installs it: apt-get install chromium).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess

import pytest
from click.testing import CliRunner

from reprobe.cli.main import cli

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")


def find_chromium():
    env = os.environ.get("REPROBE_CHROMIUM")
    if env:
        return env
    for name in CANDIDATES:
        path = shutil.which(name)
        if path:
            return path
    return None


@pytest.fixture(scope="module")
def chromium():
    path = find_chromium()
    if path is None:
        if os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no"):
            pytest.fail("headless Chromium is required in CI (apt-get install -y chromium) but was not found")
        pytest.skip("chromium not installed (apt-get install -y chromium); set CI=true to make this a failure")
    return path


def browse(chromium, tmp_path, url, *extra, timeout=90):
    profile = tmp_path / f"profile-{len(list(tmp_path.glob('profile-*')))}"
    cmd = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           "--disable-dev-shm-usage", f"--user-data-dir={profile}", "--enable-logging=stderr", "--v=0",
           "--virtual-time-budget=5000", *extra, url]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    return p


def console_errors(stderr: str, url: str):
    return [line for line in stderr.splitlines()
            if "Uncaught" in line or (":CONSOLE" in line and url in line)]


def test_report_in_browser(chromium, tmp_path):
    out = tmp_path / "cmp"
    r = CliRunner().invoke(cli, ["compare", "--model", "mlp:depth=5,sigma_w2=1.0", "--model", "mlp:depth=8,sigma_w2=1.76",
                                 "--width", "32", "--train-samples", "300", "--samples", "20", "-q", "--out", str(out)])
    assert r.exit_code == 0, r.output
    url = (out / "report.html").resolve().as_uri()

    dom = browse(chromium, tmp_path, url, "--dump-dom")
    assert dom.returncode == 0, dom.stderr[-2000:]
    body = re.search(r"<body[^>]*>", dom.stdout)
    assert body, dom.stdout[:500]
    assert 'data-images-ok="true"' in body.group(0), body.group(0)
    n = int(re.search(r'data-image-count="(\d+)"', body.group(0)).group(1))
    assert n >= 2 + 2 + 1  # two metric plots + one strip per model + mse plot (in <details>)
    assert "Ranking by predicted trainability" in dom.stdout
    assert not console_errors(dom.stderr, url), console_errors(dom.stderr, url)

    shot = tmp_path / "report.png"
    s = browse(chromium, tmp_path, url, f"--screenshot={shot}", "--window-size=1280,2000")
    assert s.returncode == 0, s.stderr[-2000:]
    assert shot.is_file() and shot.stat().st_size > 20_000
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    keep = os.environ.get("REPROBE_SCREENSHOT_DIR")
    if keep:
        shutil.copy(shot, os.path.join(keep, "report-compare.png"))


def test_browser_check_can_fail(chromium, tmp_path):
    """The image check catches a broken image and the console check catches a script error."""
    page = tmp_path / "broken.html"
    from reprobe.report.page import page as make_page

    page.write_text(make_page("broken", '<img src="data:image/png;base64,AAAA" alt="bad"><script>noSuchFunction();</script>'))
    url = page.resolve().as_uri()
    dom = browse(chromium, tmp_path, url, "--dump-dom")
    assert 'data-images-ok="false"' in dom.stdout
    assert console_errors(dom.stderr, url)
