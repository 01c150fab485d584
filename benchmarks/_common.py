"""Recording benchmark figures with the machine and package versions they came from.

    from _common import record
    record("features", {"full": {"seconds": 41.2}}, command="python benchmarks/features.py")

writes ``benchmarks/results/<name>.json`` (everything) and ``<name>.md`` (a readable
table). Figures are a mapping, possibly nested; nested keys are joined with ``.`` in
the Markdown table.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import sys
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, Mapping

from healthscore.io.files import write_text_atomic

RESULTS = Path(__file__).resolve().parent / "results"
PACKAGES = ("healthscore", "numpy", "pandas", "pyarrow", "scikit-learn", "lightgbm", "shap",
            "mlflow", "duckdb", "polars", "psutil")


def machine_info() -> dict[str, Any]:
    """CPU model, cores, memory, OS and Python of this machine."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        memory_gb = round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
    except (ValueError, OSError, AttributeError):
        memory_gb = None
    return {"cpu": cpu, "cores": os.cpu_count(), "memory_gib": memory_gb,
            "os": platform.platform(), "python": sys.version.split()[0]}


def package_versions(names=PACKAGES) -> dict[str, str]:
    """Installed versions of ``names`` (absent packages are left out)."""
    out = {}
    for name in names:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            continue
    return out


def _flatten(figures: Mapping[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    rows: list[tuple[str, Any]] = []
    for key, value in figures.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            rows += _flatten(value, name + ".")
        else:
            rows.append((name, value))
    return rows


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.3f}" if abs(value) < 1000 else f"{value:,.0f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value).replace("|", "\\|")


def render_markdown(record: Mapping[str, Any]) -> str:
    """The record as a Markdown page."""
    lines = [f"# Benchmark: {record['name']}", "", f"Recorded {record['created_at']} with:", "",
             f"    {record['command']}", ""]
    if record.get("notes"):
        lines += [record["notes"], ""]
    lines += ["| figure | value |", "|---|---:|"]
    lines += [f"| {key} | {_cell(value)} |" for key, value in _flatten(record["figures"])]
    machine = record["machine"]
    lines += ["", "## Machine", "", "| | |", "|---|---|"]
    lines += [f"| {key} | {_cell(value)} |" for key, value in machine.items()]
    lines += ["", "## Versions", "", "| package | version |", "|---|---|"]
    lines += [f"| {key} | {value} |" for key, value in record["versions"].items()]
    return "\n".join(lines) + "\n"


def record(name: str, figures: Mapping[str, Any], *, command: str, notes: str = "",
           results_dir: str | Path = RESULTS) -> dict[str, Path]:
    """Write ``<name>.json`` and ``<name>.md`` under ``results_dir``.

    Parameters
    ----------
    name : str
        File stem, e.g. ``features``.
    figures : mapping
        The measured numbers (JSON-serialisable, possibly nested).
    command : str
        The command line that reproduces them.
    notes : str
        Free text: what was measured, caveats.

    Returns
    -------
    dict with the ``json`` and ``md`` paths written.
    """
    out = Path(results_dir)
    out.mkdir(parents=True, exist_ok=True)
    entry = {
        "name": name,
        "created_at": dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat(),
        "command": command,
        "notes": notes,
        "figures": dict(figures),
        "machine": machine_info(),
        "versions": package_versions(),
    }
    paths = {"json": out / f"{name}.json", "md": out / f"{name}.md"}
    write_text_atomic(json.dumps(entry, indent=2, default=str) + "\n", paths["json"])
    write_text_atomic(render_markdown(entry), paths["md"])
    return paths


def update_sections(name: str, figures: Mapping[str, Any], command: str, *, path: Path) -> dict[str, Any]:
    """Replace section ``name`` of the JSON record ``path`` (one section per run kind,
    each with its command, machine and versions) and return every section, for a
    benchmark whose Markdown shows all of them."""
    path.parent.mkdir(parents=True, exist_ok=True)
    sections = json.loads(path.read_text()) if path.exists() else {}
    sections[name] = {**figures, "command": command, "machine": machine_info(),
                      "versions": package_versions()}
    write_text_atomic(json.dumps(sections, indent=2, sort_keys=True) + "\n", path)
    return sections
