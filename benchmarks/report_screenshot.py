"""Render the report's HTML page in headless Chromium and save a screenshot, to check it as a reader sees it.

    python -m benchmarks.report_screenshot [--report reports/demo/report.html] [--out reports/demo/report.png]

Needs Debian's ``chromium`` (``apt-get install chromium``); the page is self-contained (figures inlined),
so Chromium runs with networking off.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--hide-scrollbars")


def screenshot(page: Path, out: Path, width: int = 1400, height: int = 2400) -> Path:
    """Save a PNG of ``page`` as headless Chromium draws it; raise with Chromium's words if it fails."""
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        raise SystemExit("headless Chromium is needed: apt-get install chromium")
    if not page.exists():
        raise SystemExit(f"{page}: no report page (run `python analysis/make_report.py` first)")
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as profile:
        done = subprocess.run([browser, *CHROMIUM_FLAGS, f"--user-data-dir={profile}",
                               f"--window-size={width},{height}", f"--screenshot={out.resolve()}",
                               page.resolve().as_uri()], capture_output=True, text=True, timeout=120)
    if done.returncode != 0 or not out.exists():
        raise SystemExit(f"Chromium could not draw {page}: {done.stderr.strip()[-500:]}")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.report_screenshot", description=__doc__.splitlines()[0])
    parser.add_argument("--report", type=Path, default=Path("reports/demo/report.html"))
    parser.add_argument("--out", type=Path, default=Path("reports/demo/report.png"))
    parser.add_argument("--width", type=int, default=1400)
    parser.add_argument("--height", type=int, default=2400)
    args = parser.parse_args(argv)
    png = screenshot(args.report, args.out, args.width, args.height)
    print(f"{png}: {png.stat().st_size} bytes, {args.width}x{args.height}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
