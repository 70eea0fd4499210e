"""A real headless browser for tests: Debian's Chromium (``apt-get install chromium``) loads a page and reports
the DOM after its scripts ran and every console message (errors included)."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path


def chromium_path() -> str | None:
    """The Chromium executable on PATH, or None (tests skip without it)."""
    return shutil.which("chromium") or shutil.which("chromium-browser")


def load_in_chromium(page: Path | str, virtual_time_ms: int | None = None,
                     timeout: float = 180) -> tuple[str, list[str]]:
    """Load ``page`` (a file or an ``http://`` URL) in headless Chromium; return the DOM after its scripts ran
    and the console messages. ``virtual_time_ms`` lets the page's timers run that long (virtual time: no waiting)
    before the DOM is taken."""
    exe = chromium_path()
    if exe is None:
        raise FileNotFoundError("chromium is not installed (apt-get install chromium)")
    url = page if isinstance(page, str) else page.resolve().as_uri()
    extra = [f"--virtual-time-budget={virtual_time_ms}"] if virtual_time_ms else []
    with tempfile.TemporaryDirectory() as profile:
        p = subprocess.run(
            [exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={profile}",
             "--enable-logging=stderr", "--v=0", *extra, "--dump-dom", url],
            capture_output=True, text=True, timeout=timeout, check=False)
    console = [line for line in p.stderr.splitlines() if ":CONSOLE" in line]
    return p.stdout, console


__all__ = ["chromium_path", "load_in_chromium"]
