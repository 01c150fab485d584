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
   of 9 ``C`` values and of 256 XGBoost settings, then the same grids nested; then the
   same from chapter 7's metrics (ratios, the dislike share, the change in new friends,
   days since the last new friend, 84-day scaled unfriends) and its data set, whose rows
   start on 2020-03-01;
3. ``benchmarks/quality.py --cv 2`` runs healthscore on each data set's rows (the draw's
   own tables, healthscore's own features) and the same two time-ordered folds, every
   choice made on each training part's inner folds.

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
from fightchurn_export import PASSWORD_ENV, TYPES  # noqa: E402

from healthscore.io.files import write_text_atomic  # noqa: E402
from healthscore.io.sql import connect, quote  # noqa: E402

log = logging.getLogger(__name__)

SCHEMA = "socialnet7"
EVENT_TYPES = 8  # the count metrics of chapter 3, listing 3 (versions 1..8)

#: (chapter, listing, versions, insert) of the book's pipeline up to its chapter-4 data
#: set (the 8 event counts over 28 days, measured weekly, and the tenure), in order.
CHAPTER4: tuple[tuple[int, int, tuple[int, ...], bool], ...] = (
    (3, 3, tuple(range(1, EVENT_TYPES + 1)), False),  # count metrics (28 days, weekly)
    (3, 4, (*range(1, EVENT_TYPES + 1), 11), False),  # their names, and account_tenure's
    (3, 13, (), False),  # account tenure
    (4, 5, (), False),  # the data set
    (8, 1, (2,), False),  # metric scores and correlation groups of that data set
    (9, 5, (1,), False),  # L1 logistic regression, cross-validated
    (9, 6, (1,), False),  # XGBoost, cross-validated
)
#: Then chapter 7's metrics (ratios, a share, a percentage change, days since, 84-day
#: scaled counts) and its data set, from 2020-03-01 (its metrics need the history).
CHAPTER7: tuple[tuple[int, int, tuple[int, ...], bool], ...] = (
    (7, 3, (), True),  # total opinions (the dislike share's denominator)
    (7, 4, (), True),  # new friends' percentage change
    (7, 6, (), True),  # days since the last new friend
    (7, 7, (), True),  # unfriends per 28 days over 84 days
    (7, 8, (), True),  # the same, tenure scaled
    (7, 1, tuple(range(1, 8)), True),  # the ratios
    (7, 2, (), False),  # the data set
    (8, 1, (), False),
    (9, 5, (), False),
    (9, 6, (), False),
)
#: The book's two data sets: their file stem, pipeline and title in the results.
DATA_SETS = {
    "chapter4": (f"{SCHEMA}_dataset", CHAPTER4,
                 "The book's chapter-4 data set (8 event counts over 28 days and the tenure; every observation)"),
    "chapter7": (f"{SCHEMA}_dataset2", CHAPTER7,
                 "The book's chapter-7 data set (its ratios, shares, changes and scaled counts added; "
                 "observations from 2020-03-01)"),
}
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
        for table in TYPES:  # the tables fightchurn_export writes
            cursor.adbc_ingest(table, pq.read_table(folder / f"{table}.parquet"), mode="replace",
                               db_schema_name=staging)
            cursor.execute(f"INSERT INTO {quote(SCHEMA)}.{quote(table)} "
                           f"SELECT * FROM {quote(staging)}.{quote(table)}")
        cursor.execute(f"DROP SCHEMA {quote(staging)} CASCADE")
    connection.commit()


def run_listings(listings, *, fightchurn_python: str, env: dict[str, str], log_path: Path) -> None:
    """The book's ``listings`` (:data:`CHAPTER4`, :data:`CHAPTER7`) on the schema, their
    output appended to ``log_path``."""
    with log_path.open("a") as out:
        for chapter, listing, versions, insert in listings:
            command = [fightchurn_python, "-m", "fightchurn.run_churn_listing", "--schema", SCHEMA,
                       "--chapter", str(chapter), "--listing", str(listing), *(["--insert"] if insert else [])]
            if versions:
                command += ["--version", *map(str, versions)]
            subprocess.run(command, env=env, check=True, stdout=out, stderr=subprocess.STDOUT)


def nested_figures(out_dir: Path, stem: str, *, fightchurn_python: str) -> dict[str, Any]:
    """The book's models with settings chosen on each training part only
    (``benchmarks/_fightchurn_nested.py``, run by fightchurn's Python)."""
    script = Path(__file__).resolve().parent / "_fightchurn_nested.py"
    done = subprocess.run([fightchurn_python, "-W", "ignore", str(script), str(out_dir / f"{stem}.csv")],
                          check=True, capture_output=True, text=True)
    return json.loads(done.stdout)


def book_figures(out_dir: Path, stem: str = f"{SCHEMA}_dataset") -> dict[str, Any]:
    """The book's cross-validation results of data set ``stem`` in ``out_dir`` (its
    ``CHURN_OUT_DIR``/socialnet7), as it reports them."""
    rows = pd.read_csv(out_dir / f"{stem}.csv")
    lr = pd.read_csv(out_dir / f"{stem}_crossval.csv")
    xgb = pd.read_csv(out_dir / f"{stem}_crossval_xgb.csv")
    best_lr = lr.sort_values("mean_test_AUC", ascending=False, kind="stable").iloc[0]
    best_xgb = xgb.sort_values("mean_test_AUC", ascending=False, kind="stable").iloc[0]
    by_loss = xgb.sort_values("rank_test_loss", kind="stable").iloc[0]  # what 9.6 refits
    return {
        "rows": len(rows), "churned": int(rows["is_churn"].sum()),
        "first_observation": str(rows["observation_date"].min()),
        "logistic_best": {"C": float(best_lr["param_C"]), "roc_auc": _r(best_lr["mean_test_AUC"]),
                          "top_decile_lift": _r(best_lr["mean_test_lift"])},
        "xgboost_best": {"roc_auc": _r(best_xgb["mean_test_AUC"]), "top_decile_lift": _r(best_xgb["mean_test_lift"]),
                         "setting": {k: best_xgb[f"param_{k}"] for k in
                                     ("max_depth", "learning_rate", "n_estimators", "min_child_weight")}},
        "xgboost_refit": {"roc_auc": _r(by_loss["mean_test_AUC"]), "top_decile_lift": _r(by_loss["mean_test_lift"])},
        "xgboost_grid_median_roc_auc": _r(xgb["mean_test_AUC"].median()),
        "grid_sizes": {"logistic": len(lr), "xgboost": len(xgb)},
    }


def book_rows(folder: Path, data_set: Path, out: Path) -> Path:
    """The draw's observations that are rows of the book's ``data_set`` (chapter 7's
    starts in March), written to ``out``."""
    observations = pd.read_parquet(folder / "observation.parquet")
    rows = pd.read_csv(data_set, usecols=["account_id", "observation_date"], parse_dates=["observation_date"])
    rows["observation_date"] = rows["observation_date"].dt.date
    observations.merge(rows, on=["account_id", "observation_date"]).to_parquet(out, index=False)
    return out


def our_figures(folder: Path, cutoffs: Path, *, name: str) -> dict[str, Any]:
    """``quality.py --cv 2`` on the draw's ``cutoffs`` (the book's rows and folds); the
    section's test figures."""
    options = quality.make_parser().parse_args([
        "--data", str(folder), "--params", str(quality.ROOT / "configs" / "socialnet7.yaml"),
        "--cutoffs", str(cutoffs), "--cv", "2", "--name", name])
    section = quality.run_section(options)
    table = section["table"]
    return {**{p: {"roc_auc": table[p]["roc_auc"], "top_decile_lift": table[p]["top_decile_lift"]}
               for p in OURS if p in table},
            "selected_by_fold": [f.get("selected") for f in section["folds"]]}


def render(figures: dict[str, Any], command: str) -> str:
    """The side-by-side tables in Markdown, one per data set of the book."""
    lines = ["# The book's models against healthscore, same draws, same rows, same folds", "",
             f"Recorded {figures['recorded_at']} with:", "", f"    {command}", "",
             "Folds: `TimeSeriesSplit(n_splits=2)` over the data set's rows in date order "
             "(the book's chapter 9); healthscore reads the same draw's tables and predicts the "
             "same rows with its own features (`quality.py --cv 2`). Mean test ROC-AUC (top-decile "
             "lift) over the two folds. The book's figures as it reports them are its best grid "
             "point by the mean test-fold score (chosen on the test folds: 9 `C` values, 256 "
             "XGBoost settings); 'refit' is the setting listing 9.6 keeps (best test log loss). "
             "'Nested' runs the book's own grid search on each training part alone "
             "(`TimeSeriesSplit(2)` of it, refitted by the book's criterion) and scores the test "
             "part with what it chose (`benchmarks/_fightchurn_nested.py`): like healthscore's, "
             "those choices never see the test folds."]

    def cell(d: dict[str, Any]) -> str:
        return f"{d['roc_auc']:.3f} ({d['top_decile_lift']:.2f})"

    for task in DATA_SETS:
        lines += ["", f"## {DATA_SETS[task][2]}", "",
                  "| draw | rows | churned | healthscore selected | healthscore LightGBM | rule scorecard "
                  "| book L1 logistic, nested | book XGBoost, nested | book L1 logistic, best C "
                  "| book XGBoost, best of grid | book XGBoost, refit | XGBoost grid median |",
                  "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
        for name, draw in figures["draws"].items():
            ours, book = draw[task]["healthscore"], draw[task]["book"]
            lines.append(f"| {name} | {book['rows']:,} | {book['churned']:,} | {cell(ours['selected'])} | "
                         f"{cell(ours['model'])} | {cell(ours['scorecard'])} | {cell(book['nested']['logistic'])} | "
                         f"{cell(book['nested']['xgboost'])} | {cell(book['logistic_best'])} | "
                         f"{cell(book['xgboost_best'])} | {cell(book['xgboost_refit'])} | "
                         f"{book['xgboost_grid_median_roc_auc']:.3f} |")
        mean = figures["mean_roc_auc"][task]
        lines.append(f"| mean | | | {mean['selected']:.3f} | {mean['model']:.3f} | {mean['scorecard']:.3f} | "
                     f"{mean['logistic_nested']:.3f} | {mean['xgboost_nested']:.3f} | {mean['logistic_best']:.3f} | "
                     f"{mean['xgboost_best']:.3f} | {mean['xgboost_refit']:.3f} | {mean['xgboost_grid_median']:.3f} |")
    versions = ", ".join(f"{k} {v}" for k, v in figures["versions"].items())
    m = figures["machine"]
    lines += ["", f"Versions: {versions}, fightchurn {figures['fightchurn']} (its own environment). "
                  f"Machine: {m['cpu']}, {m['cores']} cores, {m['memory_gib']} GiB, {m['os']}, Python {m['python']}.", ""]
    return "\n".join(lines)


def run_draw(connection: Any, name: str, folder: Path, args: argparse.Namespace) -> dict[str, Any]:
    """Load one draw, run the book's pipeline and healthscore on each data set's rows."""
    url = urlsplit(args.db)
    out_dir = args.work / name
    out_dir.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "CHURN_DB": url.path.lstrip("/"), "CHURN_DB_USER": url.username or "",
           "CHURN_DB_PASS": os.environ.get(PASSWORD_ENV, ""), "CHURN_DB_HOST": url.hostname or "localhost",
           "PGPORT": str(url.port or 5432), "CHURN_OUT_DIR": str(out_dir), "MPLBACKEND": "Agg"}
    log.info("%s: loading %s", name, folder)
    load_draw(connection, folder, fightchurn_python=args.fightchurn_python, env=env)
    (out_dir / "listings.log").unlink(missing_ok=True)
    draw: dict[str, Any] = {"data": str(folder)}
    for task, (stem, listings, _) in DATA_SETS.items():
        log.info("%s: the book's listings, %s", name, task)
        run_listings(listings, fightchurn_python=args.fightchurn_python, env=env, log_path=out_dir / "listings.log")
        book = out_dir / SCHEMA
        log.info("%s: healthscore on the %s rows, the same folds", name, task)
        rows = book_rows(folder, book / f"{stem}.csv", out_dir / f"{task}_rows.parquet")
        draw[task] = {
            "book": {**book_figures(book, stem),
                     "nested": nested_figures(book, stem, fightchurn_python=args.fightchurn_python)},
            "healthscore": our_figures(folder, rows, name=f"book-{task}-{name}")}
    return draw


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--db", required=True, help="postgresql://USER@HOST:PORT/DATABASE")
    parser.add_argument("--fightchurn-python", required=True, help="python of fightchurn's environment")
    parser.add_argument("--work", type=Path, required=True, help="folder for the book's outputs")
    parser.add_argument("--out", type=Path, default=_common.RESULTS, help="results folder")
    parser.add_argument("draws", nargs="+", metavar="NAME=PARQUET_DIR")
    args = parser.parse_args(argv)
    figures: dict[str, Any] = {"draws": {}}
    with connect(args.db, password_env=PASSWORD_ENV) as connection:
        for spec in args.draws:
            name, _, folder = spec.partition("=")
            figures["draws"][name] = run_draw(connection, name, Path(folder), args)
    figures["mean_roc_auc"] = {task: mean_roc_auc({n: d[task] for n, d in figures["draws"].items()})
                               for task in DATA_SETS}
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
    """Each column's ROC-AUC averaged over the draws (each ``{"book": ..., "healthscore": ...}``)."""
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
