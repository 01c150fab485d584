"""The model page in a real browser: one reliability chart, every signal label whole
and inside its chart, the run's counts and the scale in words (no raw keys), no console
errors; a screenshot in the test's folder."""

from __future__ import annotations

import base64
import io
import os
import shutil
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

DOCS_IMG = Path(__file__).resolve().parents[2] / "docs" / "img"
LONG = "Support tickets opened in the last 90 days compared with the 90 days before"


def _png(title: str) -> str:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    figure = Figure(figsize=(3, 2))
    figure.add_subplot().plot([0, 1], [0, 1])
    figure.suptitle(title)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=60)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


@pytest.fixture()
def model_report(portfolio, tmp_path):
    from healthscore.config import ReportParams
    from healthscore.report import write_report

    import dataclasses

    from conftest import CATALOGUE  # tests/browser: (label, family, unit, phrase) per feature

    catalogue = {f: dict(zip(("label", "family", "unit", "phrase"), v)) for f, v in CATALOGUE.items()}
    catalogue["tickets__open__now"]["label"] = LONG
    plots = {"reliability.png": _png("reliability"), "roc.png": _png("roc"), "lift.png": _png("lift")}
    counts = {"active": 8, "scored": 8, "red": 2, "yellow": 3, "green": 3, "compared": 8, "alerts": 2,
              "tasks": 2, "reused": 0}
    inputs = dataclasses.replace(portfolio,
                                 model_info={**portfolio.model_info, "plots": plots, "catalogue": catalogue},
                                 run_info={**portfolio.run_info, "counts": counts})
    out = tmp_path / "report"
    write_report(inputs, ReportParams(), out_dir=out)
    return out


def test_model_page_shows_each_thing_once_whole_and_in_words(page, model_report, tmp_path):
    page.goto((model_report / "model.html").as_uri())
    page.wait_for_load_state("load")
    assert page.errors == [] and page.dialogs == []

    # one reliability figure: the drawn chart; the training plot of the same curve is left out
    assert page.locator("#reliability svg").count() == 1
    plots = page.locator("#plots figcaption").all_inner_texts()
    assert len(plots) == 2 and not any("eliability" in t for t in plots)
    assert plots[0].startswith("Churn among the riskiest renewals")  # lift, in words
    assert page.locator("text=Reliability of each predictor").count() == 0

    # every driver label whole, and drawn inside its chart
    labels = page.locator("#global-drivers svg text").all_text_contents()
    assert LONG in labels and not any("\u2026" in t for t in labels)
    outside = page.evaluate("""() => [...document.querySelectorAll('#global-drivers svg text, #bands svg text')]
        .filter(t => { const b = t.getBBox(); const box = t.ownerSVGElement.viewBox.baseVal;
                       return b.x < 0 || b.x + b.width > box.width + 0.5; })
        .map(t => t.textContent)""")
    assert outside == []

    # the run's counts named in words; a zero reuse is not listed; no raw keys
    rows = dict(line.split("\t") for line in page.locator("#run-counts").inner_text().splitlines())
    assert rows["Tasks made by the plays"] == "2" and rows["Accounts scored"] == "8"
    assert rows["Red band"] == "2" and len(rows) == 8  # the 9 counts less the zero reuse
    assert not any("reused" in name.lower() or "_" in name or name.islower() for name in rows)

    # the scale as a sentence, not "35 / 10"
    words = page.inner_text("[data-testid=scale-words]")
    assert words.startswith("A health score of 35 means even odds of losing the account")
    assert "every 10 points higher halves those odds" in words
    assert " / " not in page.inner_text("#model-title ~ .kpis")
    assert page.inner_text("[data-testid=model-kind]") == "Gradient-boosted trees (LightGBM), calibrated"
    table = page.inner_text("#metrics-table")
    assert "Ranking of churners" in table and "ROC-AUC" in table  # the term beside the words

    path = tmp_path / "model-page.png"
    page.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 10_000
    if os.environ.get("HEALTHSCORE_UPDATE_SCREENSHOTS") == "1":
        DOCS_IMG.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, DOCS_IMG / "model-page.png")
