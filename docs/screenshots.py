"""Screenshots of the demo report for the README: run after `make demo`.

    .venv/bin/python docs/screenshots.py [outputs/report]

Writes docs/img/overview.png and docs/img/account.png (the account with the most ARR
at risk) with Debian's Chromium driven by Playwright.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pandas as pd
from playwright.sync_api import sync_playwright

from healthscore.report.account import account_filename

ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]


def main(report: Path, out: Path) -> None:
    risk = pd.read_parquet(report.parent / "risk_list" / "latest.parquet")
    account = report / account_filename(risk["account_id"].iloc[0])
    out.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=shutil.which("chromium"), args=ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 1500})
        for name, path in (("overview", report / "index.html"), ("account", account)):
            page.goto(path.resolve().as_uri())
            page.screenshot(path=str(out / f"{name}.png"))
            print(out / f"{name}.png")
        browser.close()


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "outputs/report"), Path("docs/img"))
