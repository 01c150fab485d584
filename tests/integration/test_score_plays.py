"""`healthscore score` with plays and a webhook: two as-of dates on simulated tables and
a small trained model; the tasks table is written with the date, the tasks arrive at a
real HTTP server on the loopback address, and a dead webhook never fails the run."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from healthscore.cli import main
from healthscore.notify import SIGNATURE_HEADER, sign
from healthscore.scoring import OutputLayout
from healthscore.data.schema import TASK_COLUMNS

from loopback_servers import Receiver  # tests/: a real HTTP server on 127.0.0.1

D1, D2 = "2024-05-01", "2024-06-01"


@pytest.fixture(scope="module")
def world(tmp_path_factory, simulated_renewals):
    root = tmp_path_factory.mktemp("score-plays")
    data, _tables, labelled, names = simulated_renewals(root, accounts=160, months=18, seed=3)
    simulated_renewals.save(labelled, names, 40, root / "model")
    return {"data": data, "model": root / "model"}


def score(world, out, as_of, *sets, dry_run=False):
    extra = ["--dry-run"] if dry_run else []
    argv = ["--set", f"score.out_dir={out}", "--set", "alerts.drop_points=3"]
    for item in sets:
        argv += ["--set", item]
    return main([*argv, "score", "--as-of", as_of, "--data", str(world["data"]),
                 "--model", str(world["model"]), "--no-report", *extra])


def test_tasks_are_written_and_sent_signed(world, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HS_PLAYS_SECRET", "k")
    out = tmp_path / "outputs"
    with Receiver() as hook:
        hook_sets = ["notify.webhook.enabled=true", f"notify.webhook.url={hook.url}",
                     "notify.webhook.secret_env=HS_PLAYS_SECRET"]
        assert score(world, out, D1, *hook_sets) == 0
        assert score(world, out, D2, *hook_sets) == 0
    layout = OutputLayout(out)
    alerts = layout.read_table("alerts", D2)
    tasks = layout.read_table("tasks", D2)
    assert tuple(tasks.columns) == TASK_COLUMNS
    assert len(alerts) > 0 and len(tasks) == len(alerts)  # the last default play takes any alert
    assert set(tasks["account_id"]) == set(alerts["account_id"])
    assert layout.read_run(D2)["counts"]["tasks"] == len(tasks)
    risk = layout.read_table("risk_list", D2).set_index("account_id")
    assert (tasks["owner"].to_numpy() == risk.loc[tasks["account_id"], "owner"].to_numpy()).all()
    # what the server got: one signed POST, of the second date (the first raised no alert)
    (headers, body), = hook.requests
    assert headers[SIGNATURE_HEADER] == sign(body, "k")
    payload = json.loads(body)
    assert payload["as_of"] == D2
    assert sorted(t["task_id"] for t in payload["tasks"]) == sorted(tasks["task_id"])
    printed = capsys.readouterr().out
    assert "notifications: no tasks, nothing to send" in printed
    assert "notifications: sent 1 webhook" in printed

    # healthscore notify --dry-run: the stored tasks, nothing sent
    with Receiver() as again:
        assert main(["--set", f"score.out_dir={out}", "--set", "notify.webhook.enabled=true",
                     "--set", f"notify.webhook.url={again.url}", "notify", "--dry-run"]) == 0
    assert again.requests == []
    printed = capsys.readouterr().out
    assert f"{len(tasks):,} tasks of {D2}" in printed and "would send 1 webhook" in printed


def test_a_dead_webhook_never_fails_the_run(world, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HS_PLAYS_SECRET", "k")
    out = tmp_path / "outputs"
    with Receiver() as hook:
        dead = hook.url  # closed on leaving: connections are refused
    sets = ["notify.webhook.enabled=true", f"notify.webhook.url={dead}",
            "notify.webhook.secret_env=HS_PLAYS_SECRET", "notify.backoff_seconds=0",
            "notify.timeout_seconds=1"]
    assert score(world, out, D1, *sets) == 0
    assert score(world, out, D2, *sets) == 0
    assert "failed: 1 webhook" in capsys.readouterr().out
    assert OutputLayout(out).dates() == [pd.Timestamp(D1), pd.Timestamp(D2)]
    # dry run: nothing sent, the lines say what would go
    assert score(world, out, D2, *sets, dry_run=True) == 0
    assert "would send 1 webhook" in capsys.readouterr().out
