"""The book's own models against healthscore on the same socialnet7 draws and the same folds.

    python benchmarks/fightchurn_book.py --db postgresql://USER@HOST:PORT/DATABASE \\
        --fightchurn-python FCVENV/bin/python --work DIR NAME=PARQUET_DIR [NAME=PARQUET_DIR ...]

For each draw (a folder in the ``../shared/data/socialnet7-dev`` layout, e.g. written by
``benchmarks/fightchurn_export.py``):

1. its tables are loaded into the schema ``socialnet7`` of the database (recreated by
   fightchurn's own ``churndb``; the password from ``HEALTHSCORE_DB_PASSWORD``);
2. the book's listings run on it, as its ``socialnet7_listings.json`` configures them:
   the chapter-3 metrics (each event type's count over 28 days, measured weekly, and the
   account tenure), the chapter-4 data set, chapter 8's metric scores and groups, and
   chapter 9's cross-validation of the L1 logistic regression (9.5) and of XGBoost
   (9.6): ``TimeSeriesSplit(n_splits=2)`` over the observations in date order, a grid
   of 9 ``C`` values and of 256 XGBoost settings, then the same grids nested;
3. ``benchmarks/quality.py --cv 2`` runs healthscore on the same observations and the
   same two time-ordered folds, every choice made on each training part's inner folds.

The book reports the best grid point by its mean test-fold score, so its figures are
chosen on the test folds; healthscore's are not. Both are written side by side, with
the median over the XGBoost grid and the book's two models nested (their grid search run
on each training part alone: ``benchmarks/_fightchurn_nested.py``), to
``benchmarks/results/fightchurn_book.{md,json}``.

fightchurn runs in its own virtual environment (it pins pandas 2):
``python3.11 -m venv FCVENV && FCVENV/bin/pip install fightchurn==1.2.0 pyarrow``; the
PostgreSQL server and the data are made as ``benchmarks/results/fightchurn_data.md`` says.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import os
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pandas as pd
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common  # noqa: E402
import quality  # noqa: E402

from healthscore.io.files import write_text_atomic  # noqa: E402
from healthscore.io.sql import connect, quote  # noqa: E402

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
SCHEMA = "socialnet7"
PASSWORD_ENV = "HEALTHSCORE_DB_PASSWORD"
TABLES = ("account", "subscription", "event", "event_type", "observation", "active_period")
EVENT_TYPES = 8  # the count metrics of chapter 3, listing 3 (versions 1..8)

#: (chapter, listing, versions) of the book's pipeline, in order.
LISTINGS: tuple[tuple[int, int, tuple[int, ...]], ...] = (
    (3, 3, tuple(range(1, EVENT_TYPES + 1))),  # count metrics (28 days, weekly)
    (3, 4, (*range(1, EVENT_TYPES + 1), 11)),  # their names, and account_tenure's
    (3, 13, ()),  # account tenure
    (4, 5, ()),  # the data set
    (8, 1, (2,)),  # metric scores and correlation groups of that data set
    (9, 5, (1,)),  # L1 logistic regression, cross-validated
    (9, 6, (1,)),  # XGBoost, cross-validated
)
OURS = ("selected", "model", "logistic", "scorecard", "blend")


def load_draw(connection: Any, folder: Path, *, fightchurn_python: str, env: dict[str, str]) -> None:
    """Recreate the schema with fightchurn's ``churndb`` and copy ``folder``'s tables in."""
    with connection.cursor() as cursor:
        cursor.execute(f"DROP SCHEMA IF EXISTS {quote(SCHEMA)} CASCADE")
    connection.commit()
    subprocess.run([fightchurn_python, "-m", "fightchurn.churnsim.churndb", SCHEMA], env=env,
                   check=True, capture_output=True)
    staging = f"{SCHEMA}_load"
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE SCHEMA IF NOT EXISTS {quote(staging)}")
        for table in TABLES:
            cursor.adbc_ingest(table, pq.read_table(folder / f"{table}.parquet"), mode="replace",
                               db_schema_name=staging)
            cursor.execute(f"INSERT INTO {quote(SCHEMA)}.{quote(table)} "
                           f"SELECT * FROM {quote(staging)}.{quote(table)}")
        cursor.execute(f"DROP SCHEMA {quote(staging)} CASCADE")
    connection.commit()


def run_listings(*, fightchurn_python: str, env: dict[str, str], log_path: Path) -> None:
    """The book's pipeline (:data:`LISTINGS`) on the schema, its output in ``log_path``."""
    with log_path.open("w") as out:
        for chapter, listing, versions in LISTINGS:
            command = [fightchurn_python, "-m", "fightchurn.run_churn_listing", "--schema", SCHEMA,
                       "--chapter", str(chapter), "--listing", str(listing)]
            if versions:
                command += ["--version", *map(str, versions)]
            subprocess.run(command, env=env, check=True, stdout=out, stderr=subprocess.STDOUT)


def nested_figures(out_dir: Path, *, fightchurn_python: str) -> dict[str, Any]:
    """The book's models with settings chosen on each training part only
    (``benchmarks/_fightchurn_nested.py``, run by fightchurn's Python)."""
    script = Path(__file__).resolve().parent / "_fightchurn_nested.py"
    done = subprocess.run([fightchurn_python, "-W", "ignore", str(script), str(out_dir / f"{SCHEMA}_dataset.csv")],
                          check=True, capture_output=True, text=True)
    return json.loads(done.stdout)


def book_figures(out_dir: Path) -> dict[str, Any]:
    """The book's cross-validation results in ``out_dir`` (its ``CHURN_OUT_DIR``/socialnet7),
    as it reports them."""
    rows = pd.read_csv(out_dir / f"{SCHEMA}_dataset.csv")
    lr = pd.read_csv(out_dir / f"{SCHEMA}_dataset_crossval.csv")
    xgb = pd.read_csv(out_dir / f"{SCHEMA}_dataset_crossval_xgb.csv")
    best_lr = lr.sort_values("mean_test_AUC", ascending=False, kind="stable").iloc[0]
    best_xgb = xgb.sort_values("mean_test_AUC", ascending=False, kind="stable").iloc[0]
    by_loss = xgb.sort_values("rank_test_loss", kind="stable").iloc[0]  # what 9.6 refits
    return {
        "rows": len(rows), "churned": int(rows["is_churn"].sum()),
        "logistic_best": {"C": float(best_lr["param_C"]), "roc_auc": _r(best_lr["mean_test_AUC"]),
                          "top_decile_lift": _r(best_lr["mean_test_lift"])},
        "xgboost_best": {"roc_auc": _r(best_xgb["mean_test_AUC"]), "top_decile_lift": _r(best_xgb["mean_test_lift"]),
                         "setting": {k: best_xgb[f"param_{k}"] for k in
                                     ("max_depth", "learning_rate", "n_estimators", "min_child_weight")}},
        "xgboost_refit": {"roc_auc": _r(by_loss["mean_test_AUC"]), "top_decile_lift": _r(by_loss["mean_test_lift"])},
        "xgboost_grid_median_roc_auc": _r(xgb["mean_test_AUC"].median()),
        "grid_sizes": {"logistic": len(lr), "xgboost": len(xgb)},
    }


def our_figures(folder: Path, *, name: str, out: Path) -> dict[str, Any]:
    """``quality.py --cv 2`` on the draw (the book's folds); the section's test figures."""
    options = quality.make_parser().parse_args([
        "--data", str(folder), "--params", str(ROOT / "configs" / "socialnet7.yaml"),
        "--cutoffs", str(folder / "observation.parquet"), "--cv", "2", "--name", name, "--out", str(out)])
    section = quality.run_section(options)
    table = section["table"]
    return {**{p: {"roc_auc": table[p]["roc_auc"], "top_decile_lift": table[p]["top_decile_lift"]}
               for p in OURS if p in table},
            "selected_by_fold": [f.get("selected") for f in section["folds"]]}


def render(figures: dict[str, Any], command: str) -> str:
    """The side-by-side table in Markdown."""
    lines = ["# The book's models against healthscore, same draws, same folds", "",
             f"Recorded {figures['recorded_at']} with:", "", f"    {command}", "",
             "Folds: `TimeSeriesSplit(n_splits=2)` over each draw's observations in date order "
             "(the book's chapter 9). Mean test ROC-AUC (top-decile lift) over the two folds. "
             "The book's figures are its best grid point by the mean test-fold score (chosen on "
             "the test folds: 9 `C` values, 256 XGBoost settings); 'refit' is the setting listing "
             "9.6 keeps (best test log loss). 'Nested' runs the book's own grid search on each "
             "training part alone (`TimeSeriesSplit(2)` of it, refitted by the book's criterion) "
             "and scores the test part with what it chose (`benchmarks/_fightchurn_nested.py`): "
             "like healthscore's, those choices never see the test folds.", "",
             "| draw | rows | churned | healthscore selected | healthscore LightGBM | rule scorecard "
             "| book L1 logistic, nested | book XGBoost, nested | book L1 logistic, best C "
             "| book XGBoost, best of grid | book XGBoost, refit | XGBoost grid median |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]

    def cell(d: dict[str, Any]) -> str:
        return f"{d['roc_auc']:.3f} ({d['top_decile_lift']:.2f})"

    for name, draw in figures["draws"].items():
        ours, book = draw["healthscore"], draw["book"]
        lines.append(f"| {name} | {book['rows']:,} | {book['churned']:,} | {cell(ours['selected'])} | "
                     f"{cell(ours['model'])} | {cell(ours['scorecard'])} | {cell(book['nested']['logistic'])} | "
                     f"{cell(book['nested']['xgboost'])} | {cell(book['logistic_best'])} | "
                     f"{cell(book['xgboost_best'])} | {cell(book['xgboost_refit'])} | "
                     f"{book['xgboost_grid_median_roc_auc']:.3f} |")
    mean = figures["mean_roc_auc"]
    lines.append(f"| mean | | | {mean['selected']:.3f} | {mean['model']:.3f} | {mean['scorecard']:.3f} | "
                 f"{mean['logistic_nested']:.3f} | {mean['xgboost_nested']:.3f} | {mean['logistic_best']:.3f} | {mean['xgboost_best']:.3f} | {mean['xgboost_refit']:.3f} | "
                 f"{mean['xgboost_grid_median']:.3f} |")
    versions = ", ".join(f"{k} {v}" for k, v in figures["versions"].items())
    m = figures["machine"]
    lines += ["", f"Versions: {versions}, fightchurn {figures['fightchurn']} (its own environment). Machine: {m['cpu']}, "
                  f"{m['cores']} cores, {m['memory_gib']} GiB, {m['os']}, Python {m['python']}.", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--db", required=True, help="postgresql://USER@HOST:PORT/DATABASE")
    parser.add_argument("--fightchurn-python", required=True, help="python of fightchurn's environment")
    parser.add_argument("--work", type=Path, required=True, help="folder for the book's outputs")
    parser.add_argument("--out", type=Path, default=RESULTS, help="results folder")
    parser.add_argument("draws", nargs="+", metavar="NAME=PARQUET_DIR")
    args = parser.parse_args(argv)
    url = urlsplit(args.db)
    password = os.environ.get(PASSWORD_ENV, "")
    figures: dict[str, Any] = {"draws": {}}
    with connect(args.db, password_env=PASSWORD_ENV) as connection:
        for spec in args.draws:
            name, _, folder = spec.partition("=")
            folder = Path(folder)
            out_dir = args.work / name
            out_dir.mkdir(parents=True, exist_ok=True)
            env = {**os.environ, "CHURN_DB": url.path.lstrip("/"), "CHURN_DB_USER": url.username or "",
                   "CHURN_DB_PASS": password, "CHURN_DB_HOST": url.hostname or "localhost",
                   "PGPORT": str(url.port or 5432), "CHURN_OUT_DIR": str(out_dir), "MPLBACKEND": "Agg"}
            log.info("%s: loading %s", name, folder)
            load_draw(connection, folder, fightchurn_python=args.fightchurn_python, env=env)
            log.info("%s: the book's listings", name)
            run_listings(fightchurn_python=args.fightchurn_python, env=env, log_path=out_dir / "listings.log")
            log.info("%s: healthscore, the same folds", name)
            figures["draws"][name] = {
                "data": str(folder),
                "book": {**book_figures(out_dir / SCHEMA),
                         "nested": nested_figures(out_dir / SCHEMA, fightchurn_python=args.fightchurn_python)},
                "healthscore": our_figures(folder, name=f"book-folds-{name}", out=out_dir / "quality")}
    figures["mean_roc_auc"] = mean_roc_auc(figures["draws"])
    figures["recorded_at"] = dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat()
    figures["versions"] = _common.package_versions()
    figures["fightchurn"] = subprocess.run(
        [args.fightchurn_python, "-c", "import importlib.metadata as m; print(m.version('fightchurn'))"],
        check=True, capture_output=True, text=True).stdout.strip()
    figures["machine"] = _common.machine_info()
    command = "python benchmarks/fightchurn_book.py " + " ".join(
        [f"--db {args.db}", "--fightchurn-python FCVENV/bin/python", f"--work {args.work}", *args.draws])
    figures["command"] = command
    args.out.mkdir(parents=True, exist_ok=True)
    write_text_atomic(json.dumps(figures, indent=2, default=str) + "\n", args.out / "fightchurn_book.json")
    write_text_atomic(render(figures, command), args.out / "fightchurn_book.md")
    print(render(figures, command))
    return 0


def mean_roc_auc(draws: dict[str, Any]) -> dict[str, float]:
    """Each column's ROC-AUC averaged over the draws."""
    draws = list(draws.values())

    def mean(get) -> float:
        return _r(sum(get(d) for d in draws) / len(draws))

    return {**{p: mean(lambda d, p=p: d["healthscore"][p]["roc_auc"]) for p in ("selected", "model", "scorecard")},
            **{p: mean(lambda d, p=p: d["book"][p]["roc_auc"]) for p in ("logistic_best", "xgboost_best", "xgboost_refit")},
            "xgboost_grid_median": mean(lambda d: d["book"]["xgboost_grid_median_roc_auc"]),
            **{f"{p}_nested": mean(lambda d, p=p: d["book"]["nested"][p]["roc_auc"]) for p in ("logistic", "xgboost")}}


def _r(value: Any, digits: int = 5) -> float:
    return round(float(value), digits)


if __name__ == "__main__":
    sys.exit(main())
