"""Scoring speed and memory: explaining feature rows, end-to-end `healthscore score`,
and incremental scoring.

Parts (``--parts``, default all):

``explain``
    Score and explain ``--rows`` feature rows (default 1,000,000) with a reference
    model (``--trees`` 500 trees of ``--leaves`` 31 leaves on ``--features`` 64
    features, 4 of them categorical) and with the model ``train`` exported to
    ``models/healthscore/`` (``--trained-model``) when present: rows/s and peak RSS of a process that only
    loads the model, makes the rows and explains them in ``score.chunk_rows`` chunks.
    Also: the largest difference between LightGBM's ``pred_contrib`` and
    ``shap.TreeExplainer`` on ``--shap-sample`` rows, both as shap runs it for
    LightGBM (a hand-off to ``pred_contrib``) and forced onto shap's own TreeSHAP
    (independent, but shap's parser ignores categorical splits: see
    ``shap_internal_additivity_gap``). Target: 1,000,000 rows in <= 10 min on 2 cores.
``e2e``
    ``healthscore score`` of ``--accounts`` simulated accounts (default 100,000) from the
    raw tables: wall time and peak RSS of the command. The model is
    ``models/healthscore/`` when its features match, else one trained here on a
    subset of the simulated accounts. Target: <= 3 min, <= 4 GB.
``bucketed``
    The same command on the source split into ``--buckets`` account buckets
    (:mod:`healthscore.scoring.buckets`): one bucket's tables in memory at a time, the
    wide outputs spooled to disk per bucket (:mod:`healthscore.scoring.spool`).
    ``--score-set KEY=VALUE`` (repeatable) passes params overrides to `score`, e.g. the
    memory knobs ``features.partition_accounts`` and ``score.chunk_rows``.
``incremental``
    The same command with ``score.incremental=true``: rerunning the date (every
    feature row unchanged) and scoring the next day (rows reused only where the
    features did not move), against the plain run.

Every heavy step runs in a child process so each peak RSS is its own. Results go to
``benchmarks/results/<--name>.json`` and ``.md`` through ``benchmarks/_common.record``.
Verify at a tiny size::

    .venv/bin/python benchmarks/scoring.py --rows 20000 --accounts 300 --trees 50
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
CACHE = HERE / ".cache"
PY = sys.executable


# ----------------------------------------------------------------- child steps


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: KiB


def child_reference_model(args) -> dict:
    """Train the reference model on synthetic rows and export it (cached)."""
    from healthscore.model import ExportedModel, HealthScale, HealthScoreModel
    from healthscore.model.export import save_bundle

    frame, y = synthetic_rows(args.train_rows, args.features, random_state=0, labels=True)
    model = HealthScoreModel(
        n_estimators=args.trees, num_leaves=args.leaves, max_depth=-1, min_child_samples=20,
        learning_rate=0.05, early_stopping_rounds=0, n_jobs=2, random_state=0,
    ).fit(frame, y)
    exported = ExportedModel(model, HealthScale())
    save_bundle(exported, args.out)
    return {"trees": int(model.booster_.num_trees()), "features": len(model.feature_names_)}


def synthetic_rows(n: int, p: int, *, random_state: int, labels: bool = False,
                   names=None, categories=None):
    """``n`` rows of ``p`` features named like the builder's (4 categorical)."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(random_state)
    if names is None:
        names = [f"events__f{i:02d}__30d" for i in range(p - 4)] + [
            f"accounts__cat{i}" for i in range(4)]
        categories = {n_: [f"level{j}" for j in range(6)] for n_ in names[-4:]}
    data = {}
    for name in names:
        if name in (categories or {}):
            levels = np.asarray(categories[name], dtype=object)
            data[name] = pd.Categorical(levels[rng.integers(0, len(levels), n)], categories=levels)
        else:
            column = rng.lognormal(1.0, 1.0, n)
            column[rng.random(n) < 0.05] = np.nan
            data[name] = column
    frame = pd.DataFrame(data)
    if not labels:
        return frame
    numeric = frame.select_dtypes("number").fillna(0).to_numpy()
    logit = -2.0 + np.tanh(numeric[:, :8] - 2.7) @ rng.normal(0, 0.8, 8)
    logit += (frame[names[-1]].cat.codes.to_numpy() == 1) * 0.8
    return frame, (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)


def child_explain(args) -> dict:
    """Load a model, make ``rows`` feature rows, explain them; timings and peak RSS."""
    import numpy as np
    import pandas as pd

    from healthscore.scoring.drivers import find_drivers
    from healthscore.model import load_exported
    from healthscore.scoring.engine import explain_rows

    exported = load_exported(args.model)
    model = exported.model
    names = list(model.feature_names_)
    if args.dataset:
        source = pd.read_parquet(args.dataset, columns=names)
        rng = np.random.default_rng(0)
        values = source.iloc[rng.integers(0, len(source), args.rows)].reset_index(drop=True)
    else:
        values = synthetic_rows(args.rows, len(names), random_state=1, names=names,
                                categories=model.categories_)
    ids = np.arange(args.rows)
    rss_rows = _peak_rss_mb()
    clock = time.perf_counter()
    explanation, _, _ = explain_rows(exported, values, chunk_rows=args.chunk_rows, account_ids=ids)
    explain_s = time.perf_counter() - clock
    clock = time.perf_counter()
    find_drivers(explanation.points, k=5)
    drivers_s = time.perf_counter() - clock
    gap = float(np.abs(explanation.base + explanation.points.sum(axis=1)
                       + explanation.residual - explanation.unclipped).max())

    shap_figures: dict = {}
    if args.shap_sample:
        shap_figures = compare_with_shap(model, values.iloc[: args.shap_sample])
    return {
        "rows": args.rows, "trees": int(model.booster_.num_trees()),
        "max_leaves": max(int(t["num_leaves"]) for t in model.booster_.dump_model()["tree_info"]),
        "features": len(names), "chunk_rows": args.chunk_rows,
        "explain_s": round(explain_s, 2), "rows_per_s": round(args.rows / explain_s),
        "drivers_s": round(drivers_s, 2),
        "peak_rss_mb": round(_peak_rss_mb()), "rss_before_explain_mb": round(rss_rows),
        "max_additivity_gap": gap, **shap_figures,
    }


def compare_with_shap(model, frame) -> dict:
    """``pred_contrib`` against ``shap.TreeExplainer``, both ways shap can run.

    shap hands a LightGBM booster back to LightGBM's ``pred_contrib`` (identical by
    construction); forcing shap's own TreeSHAP on its parse of the trees is the
    independent check, valid only without categorical splits, which shap's parser
    does not model (its values then stop adding up to the margin: reported too).
    """
    import numpy as np
    import shap

    matrix = model._matrix(frame)
    ours = model.booster_.predict(matrix, pred_contrib=True)
    margin = model.booster_.predict(matrix, raw_score=True)
    handed = shap.TreeExplainer(model.booster_).shap_values(matrix)
    out = {"shap_rows": len(frame),
           "lightgbm_additivity_gap": float(np.abs(ours.sum(axis=1) - margin).max()),
           "shap_max_abs_diff": float(np.abs(ours[:, :-1] - handed).max())}
    categorical = '"decision_type": "=="' in json.dumps(model.booster_.dump_model())
    explainer = shap.TreeExplainer(model.booster_)
    if explainer.model.trees is None:
        out["shap_internal"] = "shap could not parse the trees"
        return out
    explainer.model.model_type = "internal"
    theirs = explainer.shap_values(matrix, check_additivity=False)
    base = float(np.ravel(explainer.expected_value)[0])
    out.update(
        shap_internal_max_abs_diff=float(np.abs(ours[:, :-1] - theirs).max()),
        shap_internal_additivity_gap=float(np.abs(theirs.sum(axis=1) + base - margin).max()),
        categorical_splits=categorical,
    )
    return out


def child_simulate(args) -> dict:
    from healthscore.sim.simulate import SimulationSpec, write_simulation

    spec = SimulationSpec(n_accounts=args.accounts, months=args.months, seed=7)
    write_simulation(spec, args.out)
    return {"end": str(spec.end)}


def child_train_small(args) -> dict:
    """Train a model on up to ``train_accounts`` simulated accounts and export it."""
    import numpy as np

    from healthscore.config import read_params
    from healthscore.io.sources import read_source
    from healthscore.model import train_models
    from healthscore.model.export import save_bundle
    from healthscore.dataset.pipeline import build_dataset

    params = read_params(ROOT / "params.yaml",
                         ["model.n_estimators=300", "model.min_churned_rows=5"] + args.set)
    tables, _ = read_source(params.data, source=args.data)
    ids = tables.accounts["account_id"].to_numpy()
    keep = np.random.default_rng(0).permutation(ids)[: args.train_accounts]
    dataset = build_dataset(tables.subset(keep), params)
    result = train_models(dataset, split=params.split, model=params.model,
                          calibration=params.calibration, scorecard=params.scorecard,
                          score=params.score)
    save_bundle(result.exported, args.out)
    return {"mode": result.mode, "rows": len(dataset), "trees": (
        result.model.best_iteration_ if result.model is not None else 0)}


def child_simulate_buckets(args) -> dict:
    from healthscore.sim.buckets import simulate_buckets
    from healthscore.sim.simulate import SimulationSpec

    clock = time.perf_counter()
    simulate_buckets(SimulationSpec(n_accounts=args.accounts, months=args.months, seed=7), args.out,
                     args.buckets)
    return {"seconds": round(time.perf_counter() - clock, 2), "peak_rss_mb": round(_peak_rss_mb())}


CHILDREN = {"_reference": child_reference_model, "_explain": child_explain,
            "_simulate": child_simulate, "_train": child_train_small,
            "_simulate_buckets": child_simulate_buckets}


# ---------------------------------------------------------------- orchestration


def run_child(step: str, **options) -> dict:
    argv = [PY, str(Path(__file__).resolve()), step]
    for key, value in options.items():
        if value is None or value is False:
            continue
        flag = f"--{key.replace('_', '-')}"
        if isinstance(value, list):
            for item in value:
                argv += [flag, str(item)]
        else:
            argv += [flag, str(value)]
    return json.loads(_run(argv).strip().splitlines()[-1])


def _run(argv) -> str:
    """Run a command; its stdout (SystemExit with its stderr when it fails)."""
    proc = subprocess.run(argv, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(argv[:4])} ... failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return proc.stdout


def score_command(data: Path, model: Path, out: Path, as_of: str, *extra: str,
                  report: bool = True, after: tuple[str, ...] = ()) -> dict:
    argv = [PY, "-m", "healthscore.cli", "-q", "--params", str(ROOT / "params.yaml"),
            "--set", f"score.out_dir={out}", *extra, "score", "--as-of", as_of, "--data", str(data),
            "--model", str(model), *(() if report else ("--no-report",)), *after]  # after: score's own
    wrapper = [PY, str(Path(__file__).resolve()), "_measure", "--"] + argv
    result = json.loads(_run(wrapper).strip().splitlines()[-1])
    run_file = out / "run" / f"{as_of}.json"
    info = json.loads(run_file.read_text())
    result.update(scored=info["counts"]["scored"], reused=info["counts"]["reused"],
                  timings={k: round(v, 2) for k, v in info.get("timings", {}).items()})
    return result


def measure(argv: list[str]) -> dict:
    """Run ``argv`` as the only child: wall time and its peak RSS, the child's processes
    summed (``buckets.workers`` scores in worker processes: their RSS adds up), sampled
    every 50 ms, and never below the largest single process's own peak (ru_maxrss)."""
    import threading

    import psutil

    clock = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peak_tree, done = [0], threading.Event()

    def sample() -> None:
        try:
            root = psutil.Process(proc.pid)
            while not done.wait(0.05):
                total = 0
                for p in [root, *root.children(recursive=True)]:
                    try:
                        total += p.memory_info().rss
                    except psutil.Error:  # it ended between the listing and the read
                        pass
                peak_tree[0] = max(peak_tree[0], total)
        except psutil.Error:
            return

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    _, stderr = proc.communicate()
    wall = time.perf_counter() - clock
    done.set()
    sampler.join()
    if proc.returncode != 0:
        sys.stderr.write(stderr[-3000:])
        raise SystemExit(proc.returncode)
    largest = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024.0
    return {"wall_s": round(wall, 2), "peak_rss_mb": round(max(largest, peak_tree[0] / 2**20)),
            "peak_rss_largest_process_mb": round(largest)}


def part_explain(args, figures: dict) -> None:
    ref = CACHE / f"reference-{args.trees}x{args.leaves}-{args.features}"
    if not (ref / "manifest.json").exists():
        print(f"training the reference model ({args.trees} trees, {args.leaves} leaves) ...")
        run_child("_reference", out=ref, trees=args.trees, leaves=args.leaves,
                  features=args.features, train_rows=args.train_rows)
    # The reference model explains a few hundred rows a second: 1,000,000 rows would
    # take most of an hour, so it runs on --reference-rows and the time for
    # --rows is extrapolated linearly (stated as such in the figures).
    ref_rows = min(args.rows, args.reference_rows)
    print(f"explaining {ref_rows:,} rows with the reference model ...")
    figures["explain_reference"] = run_child(
        "_explain", model=ref, rows=ref_rows, chunk_rows=args.chunk_rows,
        shap_sample=args.shap_sample)
    ref_fig = figures["explain_reference"]
    if ref_rows < args.rows and ref_fig.get("rows_per_s"):
        ref_fig["extrapolated_seconds_for_rows"] = {
            "rows": args.rows, "seconds": round(args.rows / ref_fig["rows_per_s"], 1)}
    exported = Path(args.trained_model)
    if exported.exists():
        print(f"explaining {args.rows:,} rows with {exported} ...")
        try:
            figures["explain_trained"] = run_child(
                "_explain", model=exported, rows=args.rows, chunk_rows=args.chunk_rows,
                shap_sample=args.shap_sample, dataset=args.dataset)
        except SystemExit as exc:  # e.g. a scorecard export: nothing to explain by trees
            figures["explain_trained"] = {"skipped": str(exc)[:300]}


def e2e_inputs(args):
    """The simulated source, the model and the two scoring days of the e2e parts."""
    data = CACHE / f"sim-{args.accounts}x{args.months}"
    if not (data / "accounts.parquet").exists():
        print(f"simulating {args.accounts:,} accounts ...")
        run_child("_simulate", out=data, accounts=args.accounts, months=args.months)
    model = Path(args.model) if args.model else None
    if model is None:
        model = CACHE / f"model-sim-{args.accounts}x{args.months}"
        if not (model / "manifest.json").exists():
            print("training a model on a subset of the simulated accounts ...")
            run_child("_train", data=data, out=model,
                      train_accounts=min(args.accounts, args.train_accounts))
    import pandas as pd

    end = pd.read_parquet(data / "events.parquet", columns=["timestamp"])["timestamp"].max()
    day1 = (end.normalize() - pd.Timedelta(days=7))
    return data, model, day1, day1 + pd.Timedelta(days=1)


def part_bucketed(args, figures: dict) -> None:
    """`score` of a source simulated straight into ``--buckets`` account buckets
    (:mod:`healthscore.scoring.buckets`), two days: one bucket's tables in memory at a time,
    so ``--accounts`` may exceed what fits in memory as one source. Needs ``--model``."""
    import pandas as pd

    if not args.model:
        raise SystemExit("--parts bucketed needs --model (a model of the same simulator)")
    buckets = CACHE / f"simb-{args.accounts}x{args.months}-b{args.buckets}"
    if not (buckets / "buckets.json").exists():
        print(f"simulating {args.accounts:,} accounts into {args.buckets} buckets ...")
        figures["simulate_buckets"] = run_child("_simulate_buckets", out=buckets, accounts=args.accounts,
                                                months=args.months, buckets=args.buckets)
    end = pd.Timestamp(json.loads((buckets / "buckets.json").read_text())["observed_until"])
    day1 = end - pd.Timedelta(days=8)  # the e2e part's day: a week before the last event day
    with tempfile.TemporaryDirectory(prefix="bench-score-buckets-") as tmp:
        out = Path(tmp)
        for name, day in (("bucketed_score", day1), ("bucketed_next_day", day1 + pd.Timedelta(days=1))):
            print(f"healthscore score of {args.accounts:,} accounts in {args.buckets} buckets on {day:%Y-%m-%d} ...")
            extra = [item for pair in (("--set", kv) for kv in args.score_set) for item in pair]
            figures[name] = score_command(buckets, Path(args.model), out, f"{day:%Y-%m-%d}", *extra,
                                          report=not args.no_report)
            figures[name].update(buckets=args.buckets, accounts=args.accounts, report=not args.no_report,
                                 settings=list(args.score_set))


def part_e2e(args, figures: dict, *, incremental: bool) -> None:
    data, model, day1, day2 = e2e_inputs(args)
    with tempfile.TemporaryDirectory(prefix="bench-score-") as tmp:
        out = Path(tmp)
        print(f"healthscore score of {args.accounts:,} accounts on {day1:%Y-%m-%d} ...")
        figures["e2e_score"] = score_command(data, model, out, f"{day1:%Y-%m-%d}")
        figures["e2e_score"]["accounts"] = args.accounts
        if not incremental:
            return
        print("incremental: plain next day, rerun and next day with reuse ...")
        plain = out.parent / (out.name + "-plain")
        try:
            score_command(data, model, plain, f"{day1:%Y-%m-%d}")
            figures["next_day_plain"] = score_command(data, model, plain, f"{day2:%Y-%m-%d}")
        finally:
            import shutil

            shutil.rmtree(plain, ignore_errors=True)
        on = ("--set", "score.incremental=true")
        figures["rerun_incremental"] = score_command(data, model, out, f"{day1:%Y-%m-%d}", *on)
        figures["next_day_incremental"] = score_command(data, model, out, f"{day2:%Y-%m-%d}", *on)


def record_results(figures: dict, args, command: str) -> None:
    from _common import record  # benchmarks/_common.py: machine, versions, atomic writes

    notes = ("explain: rows/s of explain_rows (hash, pred_contrib, points) in chunks; "
             "peak RSS of the child process; e2e: wall and peak RSS of `healthscore score`, "
             "its processes summed (worker processes included).")
    record(args.name, figures, command=command, notes=notes)


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "_measure":
        print(json.dumps(measure(argv[2:])))
        return 0
    if argv and argv[0] in CHILDREN:
        step = argv.pop(0)
        parser = argparse.ArgumentParser()
        for flag in ("out", "model", "data", "dataset"):
            parser.add_argument(f"--{flag}")
        for flag in ("rows", "trees", "leaves", "features", "train-rows", "chunk-rows",
                     "shap-sample", "accounts", "months", "train-accounts", "buckets"):
            parser.add_argument(f"--{flag}", type=int, default=0)
        parser.add_argument("--set", action="append", default=[])
        print(json.dumps(CHILDREN[step](parser.parse_args(argv))))
        return 0

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--parts", default="explain,e2e,incremental")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--reference-rows", type=int, default=100_000,
                        help="rows explained with the slow reference model (default 100,000)")
    parser.add_argument("--trees", type=int, default=500)
    parser.add_argument("--leaves", type=int, default=31)
    parser.add_argument("--features", type=int, default=64)
    parser.add_argument("--train-rows", type=int, default=20_000)
    parser.add_argument("--chunk-rows", type=int, default=100_000)
    parser.add_argument("--shap-sample", type=int, default=2000)
    parser.add_argument("--dataset", default=None,
                        help="a training set whose rows are resampled for the trained model")
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--months", type=int, default=24)
    parser.add_argument("--train-accounts", type=int, default=20_000)
    parser.add_argument("--model", default=None, help="model for e2e (default: trained here)")
    parser.add_argument("--trained-model", default=str(ROOT / "models" / "healthscore"),
                        help="the model `train` produced, explained beside the reference")
    parser.add_argument("--no-record", action="store_true")
    parser.add_argument("--name", default="scoring", help="results file stem (default scoring)")
    parser.add_argument("--buckets", type=int, default=8, help="account buckets of the bucketed part")
    parser.add_argument("--no-report", action="store_true", help="bucketed part: score without the report")
    parser.add_argument("--score-set", action="append", default=[], metavar="KEY=VALUE",
                        help="bucketed part: a params override for `score` (repeatable), e.g. "
                             "features.partition_accounts=6250")
    args = parser.parse_args(argv)
    parts = set(args.parts.split(","))
    figures: dict = {}
    if "explain" in parts:
        part_explain(args, figures)
    if parts & {"e2e", "incremental"}:
        part_e2e(args, figures, incremental="incremental" in parts)
    if "bucketed" in parts:
        part_bucketed(args, figures)
    print(json.dumps(figures, indent=2))
    if not args.no_record:
        record_results(figures, args, "python benchmarks/scoring.py " + " ".join(argv))
    return 0


if __name__ == "__main__":
    sys.exit(main())
