"""Fixtures shared by every test folder."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def mlflow_store(tmp_path_factory, monkeypatch) -> str:
    """Every test gets an MLflow store of its own (an empty SQLite file in a folder of its
    own), so no test reads or writes ./mlruns.db or another test's runs; tests that name a
    store (``tracking.uri``, their own ``MLFLOW_TRACKING_URI``) still use theirs."""
    uri = f"sqlite:///{tmp_path_factory.mktemp('mlflow') / 'mlruns.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.delenv("MLFLOW_REGISTRY_URI", raising=False)
    return uri


@pytest.fixture(scope="session")
def simulated_renewals():
    """``make(root, *, accounts, months, seed, params=None, **spec)``: a simulated source
    written to ``root / "data"`` (``spec``: more :class:`SimulationSpec` fields), its
    tables and labelled renewal rows, ``(data, tables, labelled, names)`` (``params``:
    overrides of the default params); and
    ``fit(labelled, names, trees)``: a small deterministic LightGBM on them;
    ``save(labelled, names, trees, folder)``: that model exported to ``folder``;
    ``copy_without(data, folder, column)``: the source without an optional column. What the
    tests that need a real trained model on real tables start from."""
    from healthscore.config import make_params
    from healthscore.io.sources import read_source
    from healthscore.model import HealthScoreModel
    from healthscore.dataset.pipeline import build_dataset
    from healthscore.sim.simulate import SimulationSpec, write_simulation

    def make(root: Path, *, accounts: int, months: int, seed: int, params: dict | None = None, **spec):
        data = root / "data"
        write_simulation(SimulationSpec(n_accounts=accounts, months=months, seed=seed, **spec), data)
        params = make_params(params or {})
        tables, _ = read_source(params.data, source=data)
        dataset = build_dataset(tables, params)
        labelled = dataset[dataset["label"].notna()]
        return data, tables, labelled, [c for c in dataset.columns if "__" in c]

    def fit(labelled, names, trees: int) -> HealthScoreModel:
        model = HealthScoreModel(n_estimators=trees, num_leaves=5, max_depth=3, min_child_samples=5,
                                 early_stopping_rounds=0, holdout_share=0.0, n_jobs=1)
        return model.fit(labelled[names], labelled["label"].astype(int))

    def save(labelled, names, trees: int, folder: Path) -> Path:
        """``fit`` exported with the default scale and the catalogue of ``names`` to ``folder``."""
        from healthscore.model import ExportedModel, HealthScale
        from healthscore.model.export import catalogue_dict, save_bundle

        save_bundle(ExportedModel(fit(labelled, names, trees), HealthScale(),
                                  catalogue=catalogue_dict(names)), folder)
        return folder

    def copy_without(data: Path, folder: Path, column: str) -> Path:
        """Every table of ``data`` written to ``folder`` without ``column`` (the same
        source as it would be without an optional column)."""
        import pandas as pd

        folder.mkdir(parents=True, exist_ok=True)
        for path in sorted(data.glob("*.parquet")):
            frame = pd.read_parquet(path)
            frame.drop(columns=[c for c in frame.columns if c == column]).to_parquet(folder / path.name, index=False)
        return folder

    make.fit = fit
    make.save = save
    make.copy_without = copy_without
    return make
