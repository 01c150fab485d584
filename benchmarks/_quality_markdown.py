"""The bars and the Markdown of ``benchmarks/quality.py``'s results: one section per data
set (metrics per predictor, folds, the bars, the top drivers, the leak checks)."""

from __future__ import annotations

from typing import Any

import numpy as np

METRICS = ("roc_auc", "pr_auc", "log_loss", "brier", "ece", "top_decile_lift")
HEADERS = ("ROC-AUC", "PR-AUC", "log loss", "Brier", "ECE", "top-decile lift")
#: Drivers listed per section.
TOP_DRIVERS = 10
#: The issue bars each section is checked against.
BARS = {"auc_to_oracle_min": 0.95, "ece_max": 0.02, "fidelity_min": 0.80}


def render_markdown(record: dict[str, Any]) -> str:
    lines = ["# Quality benchmark", "",
             "The whole pipeline (validate, build the training set, train, calibrate, evaluate) "
             "per data set; metrics on test rows never used to fit, stop early, calibrate or "
             "choose a setting. Written by `benchmarks/quality.py`; each section names the "
             "command that reproduces it.", ""]
    for section in record["sections"].values():
        lines += render_section(section)
    return "\n".join(lines) + "\n"


def render_section(s: dict[str, Any]) -> list[str]:
    d = s["data"]
    rate = d["positives"] / d["labelled"] if d["labelled"] else float("nan")
    lines = [f"## {s['name']}: {s['source']}", "", f"    {s['command']}", "",
             f"Recorded {s['recorded_at']}. Data: {d['rows']:,} rows ({d['accounts']:,} accounts), "
             f"{d['labelled']:,} labelled, {d['positives']:,} churned ({rate:.2%}), "
             f"{d['censored']:,} censored; cutoffs {str(d['first_cutoff'])[:10]} .. "
             f"{str(d['last_cutoff'])[:10]}; {d['features']} features; build {d['build_seconds']} s, "
             f"train and evaluate {s['train_evaluate_seconds']} s. Seed: "
             + ", ".join(f"{k} {v}" for k, v in s["seed"].items()) + ".", ""]
    split = s["split"]
    if split["kind"] == "TimeSeriesSplit":
        lines += [f"Split: scikit-learn `TimeSeriesSplit(n_splits={split['n_splits']})` over the "
                  f"labelled rows sorted by cutoff; "
                  f"{'tree count, calibration and selection by the ' if split.get('small_data') else 'early stopping and calibration on the '}"
                  f"{split['validation']}; {split['folds_used']} fold(s) trained. "
                  f"Metrics: mean (± standard deviation) over those folds.", ""]
        lines += ["| fold | fit rows | fit churned | validation rows | validation churned | "
                  "test rows | test churned | test cutoffs | trees | note |", "|---" * 10 + "|"]
        for f in s["folds"]:
            note = f.get("skipped") or ("fewer fit churned rows than model.min_churned_rows"
                                        if f.get("below_min_churned_rows") else "")
            if f.get("selected"):
                note = f"selected: {f['selected']}; logistic {f['logistic']}" + (f"; {note}" if note else "")
            lines.append(f"| {f['fold']} | {f['fit_rows']:,} | {f['fit_churned']} | "
                         f"{f['validation_rows']:,} | {f['validation_churned']} | {f['test_rows']:,} | "
                         f"{f['test_churned']} | {f['test_first_cutoff']} .. {f['test_last_cutoff']} | "
                         f"{f.get('trees', '-')} | {note} |")
    else:
        lines += [f"Split: out of time (`params.split`): train cutoffs up to "
                  f"{split['validation_start']}, validation up to {split['test_start']} "
                  f"({split['validation_months']} months, early stopping and calibration), test "
                  f"up to {split['last_cutoff']} ({split['test_months']} months). "
                  f"Trees: {s['trees']}.", "",
                  "| window | rows | churned | first cutoff | last cutoff |", "|---|---|---|---|---|"]
        for c in s["counts"]:
            lines.append(f"| {c['window']} | {c['rows']:,} | {c['churned']:,} | "
                         f"{c['first_cutoff']} | {c['last_cutoff']} |")
    std = s.get("table_std", {})
    lines += ["", "| predictor | " + " | ".join(HEADERS) + " |", "|---" + "|---:" * len(HEADERS) + "|"]
    for name, row in s["table"].items():
        cells = [_fmt(row[m]) + (f" ± {_fmt(std[name][m])}" if std.get(name, {}).get(m) is not None
                                 else "") for m in METRICS]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    if s.get("auc_to_oracle") is not None:
        lines += ["", f"Model AUC / oracle AUC: {s['auc_to_oracle']:.4f}."]
    if s.get("per_fold"):
        lines += ["", "Per fold:", "", "| fold | predictor | " + " | ".join(HEADERS) + " |",
                  "|---|---" + "|---:" * len(HEADERS) + "|"]
        lines += [f"| {r['fold']} | {r['predictor']} | " + " | ".join(_fmt(r[m]) for m in METRICS) + " |"
                  for r in s["per_fold"]]
    reasons = [f"- fold {f['fold']}: {f['selection']}" for f in s.get("folds", []) if f.get("selection")]
    if s.get("selection"):
        reasons = [f"- {s['selection']}"]
    if reasons:
        lines += ["", "Selection (made on validation rows only; `selected` is what `train` exports):", "",
                  *reasons]
        lines += render_bars(s) + render_drivers(s) + render_leaks(s)
    versions = ", ".join(f"{k} {v}" for k, v in s["versions"].items())
    m = s["machine"]
    lines += ["", f"Versions: {versions}. Machine: {m['cpu']}, {m['cores']} cores, "
                  f"{m['memory_gib']} GiB, {m['os']}, Python {m['python']}.", ""]
    return lines


def render_bars(s: dict[str, Any]) -> list[str]:
    if not s["bars"]:
        return []
    title = ("Bars" if s.get("auc_to_oracle") is not None
             else "Checks (the simulator's bars, for information)")
    lines = ["", f"### {title}", "", "| bar | figure | target | result |", "|---|---|---|---|"]
    for b in s["bars"]:
        figure = b["figure"] if isinstance(b["figure"], str) else f"{b['figure']:.4f}"
        lines.append(f"| {b['bar']} | {figure} | {b['target']} | {'PASS' if b['passed'] else 'FAIL'} |")
    if s.get("fidelity") is not None:
        lines += ["", f"Fidelity over {s['fidelity_renewals']:,} churned test renewals with a named "
                      "primary cause: the cause's family among the 3 most hurting families."]
        if s.get("fidelity_traced") is not None:
            from healthscore.model.oracle import TRACES_IN_WORDS

            lines[-1] += (f" Over the {s['fidelity_traced_renewals']:,} of them whose cause had left its "
                          f"direct trace in the data by the cutoff ({TRACES_IN_WORDS}): "
                          f"{s['fidelity_traced']:.4f}.")
    return lines


def render_drivers(s: dict[str, Any]) -> list[str]:
    if not s.get("drivers"):
        return []
    lines = ["", f"### Top {TOP_DRIVERS} global drivers (mean absolute TreeSHAP over "
                 f"{s['test_rows']:,} test rows)", "",
             "Points: health-score points; log-odds: of the calibrated churn risk "
             "(points = pdo / ln 2 x log-odds). Share: of the sum over all features.", "",
             "| # | feature | family | mean abs points | mean abs log-odds | share |",
             "|---:|---|---|---:|---:|---:|"]
    for i, r in enumerate(s["drivers"][:TOP_DRIVERS], start=1):
        lines.append(f"| {i} | `{r['feature']}` ({r['label']}) | {r['family']} | "
                     f"{r['mean_abs_points']:.2f} | {r['mean_abs_logit']:.3f} | {r['share']:.1%} |")
    return lines


def render_leaks(s: dict[str, Any]) -> list[str]:
    leak = s["leak_check"]
    top = list(leak["auc"].items())[:5]
    head = (f"**FLAGGED** (single-feature AUC > {leak['threshold']}): "
            + ", ".join(f"`{n}` {leak['auc'][n]:.3f}" for n in leak["flagged"])
            if leak["flagged"] else f"no feature above {leak['threshold']}")
    lines = ["", f"### Leak check: {head}", "",
             f"Test AUC of each feature on its own as a risk score, either direction "
             f"({leak['over']}). Highest: "
             + ", ".join(f"`{n}` {a:.3f}" for n, a in top if a is not None) + "."]
    if leak["over"] != "test rows" and leak["above_in_a_fold"]:
        lines.append(f"Above {leak['threshold']} in at least one fold: "
                     + ", ".join(f"`{n}`" for n in leak["above_in_a_fold"]) + ".")
    return lines


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"


# ------------------------------------------------------------------------- CLI


def checks(section: dict[str, Any]) -> list[dict[str, Any]]:
    """The quality bars that apply to a section: figure, target and PASS/FAIL."""
    table = section["table"]
    model = table["model"]
    out = []

    def add(name: str, figure: Any, target: str, passed: bool) -> None:
        out.append({"bar": name, "figure": figure, "target": target, "passed": bool(passed)})

    if section.get("auc_to_oracle") is not None:
        ratio = section["auc_to_oracle"]
        add("model AUC / oracle AUC", ratio, f">= {BARS['auc_to_oracle_min']}",
            ratio >= BARS["auc_to_oracle_min"])
    for metric, better, word in (("roc_auc", np.greater, "AUC"), ("log_loss", np.less, "log loss")):
        for rival in ("scorecard", "logistic"):
            if rival in table and None not in (model[metric], table[rival][metric]):
                add(f"model beats {rival} on {word}", f"{model[metric]:.4f} vs {table[rival][metric]:.4f}",
                    "higher" if metric == "roc_auc" else "lower",
                    better(model[metric], table[rival][metric]))
    if model["ece"] is not None:
        add("model ECE", model["ece"], f"<= {BARS['ece_max']}", model["ece"] <= BARS["ece_max"])
    if section.get("fidelity") is not None:
        add("explanation fidelity", section["fidelity"], f">= {BARS['fidelity_min']}",
            section["fidelity"] >= BARS["fidelity_min"])
    return out


# ---------------------------------------------------------------------- running
