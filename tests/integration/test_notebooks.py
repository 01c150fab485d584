"""The notebooks: committed without outputs, and run top to bottom on small data.

Each notebook is executed with ``nbclient`` in a kernel of this interpreter (the
venv's), its papermill-style ``parameters`` cell replaced by small-data values,
MLflow pointed at a temporary SQLite store and matplotlib without a display. Any
cell error fails the test.
"""

from __future__ import annotations

import ast
import json
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from healthscore.sim.simulate import SimulationSpec, write_simulation

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = ROOT / "notebooks"
EXPLORE = "01-explore.ipynb"
TRAIN = "02-train-and-diagnose.ipynb"


def read(name: str) -> nbformat.NotebookNode:
    return nbformat.read(NOTEBOOKS / name, as_version=4)


def parameters_cell(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1, "expected exactly one cell tagged 'parameters'"
    return tagged[0]


def declared_parameters(cell: nbformat.NotebookNode) -> set[str]:
    names: set[str] = set()
    for node in ast.parse(cell.source).body:
        assert isinstance(node, ast.Assign), "the parameters cell holds assignments only"
        for target in node.targets:
            elements = target.elts if isinstance(target, ast.Tuple) else [target]
            names.update(e.id for e in elements)
    return names


def inject(nb: nbformat.NotebookNode, values: dict) -> None:
    """Replace the parameters cell's source; every declared parameter must be given,
    so a renamed parameter cannot silently keep its default."""
    cell = parameters_cell(nb)
    assert set(values) == declared_parameters(cell)
    cell.source = "\n".join(f"{name} = {value!r}" for name, value in values.items())


def images(nb: nbformat.NotebookNode) -> int:
    return sum(
        "image/png" in output.get("data", {})
        for cell in nb.cells if cell.cell_type == "code" for output in cell.outputs
    )


def text_of(nb: nbformat.NotebookNode) -> str:
    parts = []
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            parts.append(output.get("text", ""))
            parts.append(output.get("data", {}).get("text/plain", ""))
    return "\n".join(parts)


@pytest.fixture(scope="session")
def small_source(tmp_path_factory) -> Path:
    """800 accounts over 36 months (a 12-month horizon needs three years to be trained
    and tested out of time): seconds to build and train on."""
    folder = tmp_path_factory.mktemp("notebook-data") / "data"
    write_simulation(SimulationSpec(n_accounts=800, months=36, seed=3), folder)
    return folder


@pytest.fixture
def kernel(tmp_path, monkeypatch) -> str:
    """A ``python3`` kernelspec running this interpreter, found before any other.

    ``JUPYTER_PATH`` comes first in Jupyter's search path, so a user-level
    ``python3`` spec pointing at another Python cannot shadow it. The kernel
    inherits the environment: MLflow in a temporary store, matplotlib headless.
    """
    spec = tmp_path / "jupyter" / "kernels" / "python3"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3 (healthscore tests)",
        "language": "python",
    }))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlruns.db'}")
    monkeypatch.delenv("MLFLOW_REGISTRY_URI", raising=False)
    monkeypatch.setenv("MPLBACKEND", "Agg")
    return "python3"


def execute(nb: nbformat.NotebookNode, kernel: str, workdir: Path) -> None:
    workdir.mkdir(exist_ok=True)
    client = NotebookClient(nb, timeout=300, kernel_name=kernel,
                            resources={"metadata": {"path": str(workdir)}})
    client.execute()  # raises CellExecutionError on the first failing cell


# ------------------------------------------------------------------- committed


@pytest.mark.parametrize("name", [EXPLORE, TRAIN])
def test_committed_without_outputs(name):
    nb = read(name)
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code, "a notebook without code"
    for cell in code:
        assert cell.outputs == [], f"{name}: a code cell was saved with outputs"
        assert cell.execution_count is None, f"{name}: a code cell was saved with an execution count"
    assert parameters_cell(nb) is code[0], f"{name}: the parameters cell must be the first code cell"
    assert {"DATA_DIR", "PARAMS"} <= declared_parameters(code[0])
    assert nb.metadata.kernelspec.name == "python3"


@pytest.mark.parametrize("name", [EXPLORE, TRAIN])
def test_imports_pipeline_code_from_the_package(name):
    """No pipeline code in the notebooks: no function or class is defined there."""
    for cell in read(name).cells:
        if cell.cell_type != "code":
            continue
        source = "\n".join(line for line in cell.source.splitlines() if not line.startswith("%"))
        defined = [n for n in ast.walk(ast.parse(source))
                   if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))]
        assert not defined, f"{name} defines {defined[0].name}; put it in healthscore instead"


# ------------------------------------------------------------------------ runs


def test_explore_runs(small_source, kernel, tmp_path):
    nb = read(EXPLORE)
    inject(nb, {
        "DATA_DIR": str(small_source),
        "PARAMS": str(ROOT / "params.yaml"),
        "OVERRIDES": [],
        "SIM_ACCOUNTS": 800, "SIM_MONTHS": 36, "SIM_SEED": 3,
    })
    execute(nb, kernel, tmp_path / "work")
    out = text_of(nb)
    assert str(small_source) in out, "the notebook did not read the injected data"
    assert "overall churn rate of labelled rows" in out
    # data profile, segment, cohort, month of renewal, signals
    assert images(nb) >= 5


def test_train_and_diagnose_runs_and_logs(small_source, kernel, tmp_path):
    from mlflow import MlflowClient

    nb = read(TRAIN)
    inject(nb, {
        "DATA_DIR": str(small_source),
        "PARAMS": str(ROOT / "params.yaml"),
        # a small training window: fewer churned rows than the default minimum
        "OVERRIDES": ["model.min_churned_rows=20",
                      f"tracking.artifact_location={tmp_path / 'mlartifacts'}"],
        "SIM_ACCOUNTS": 800, "SIM_MONTHS": 36, "SIM_SEED": 3,
        "ACCOUNT_ID": None,
        "LOG_TO_MLFLOW": True,
    })
    execute(nb, kernel, tmp_path / "work")
    # reliability, beeswarm, waterfall, bands
    assert images(nb) >= 4
    assert "TreeSHAP additivity" in text_of(nb)

    uri = f"sqlite:///{tmp_path / 'mlruns.db'}"
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    runs = client.search_runs([e.experiment_id for e in client.search_experiments()])
    assert len(runs) == 1
    metrics = runs[0].data.metrics
    assert 0.5 < metrics["test_model_roc_auc"] <= 1.0
    assert {"test_logistic_roc_auc", "test_scorecard_roc_auc", "test_base_rate_roc_auc"} <= set(metrics)
    assert [str(v.version) for v in client.search_model_versions("name = 'healthscore'")] == ["1"]
