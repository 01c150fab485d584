"""Parents everywhere they belong, end to end: a small simulation with parents (and the
same source without ``parent_account_id``) scored on two dates by ``healthscore score``
with a small real LightGBM. The parents get alerts (``parent_alerts/``), the plays'
tasks (``parent_tasks/``, sent with the accounts' on a dry run), lines in the call list
naming their accounts (``score`` and ``healthscore calls``), and a trend in
``explain PARENT_ID``. Without the column nothing of it exists and the accounts'
alerts, tasks and calls are the same bytes."""

from __future__ import annotations

import pandas as pd
import pytest

from healthscore.cli import main
from healthscore.data.schema import PARENT_ID, TASK_COLUMNS
from healthscore.scoring import OutputLayout
from healthscore.scoring.calls import CALL_COLUMNS
from healthscore.scoring.parent_alerts import PARENT_ALERT_COLUMNS

DATES = ("2024-05-01", "2024-06-01")
# alerts on small moves, so that a small book has parent alerts to look at
LOOSE = ["--set", "alerts.drop_points=2", "--set", "alerts.reason_min_points=1",
         "--set", "alerts.band_drop_points=0", "--set", "calls.per_owner=1000"]


@pytest.fixture(scope="module")
def project(tmp_path_factory, simulated_renewals):
    root = tmp_path_factory.mktemp("grp-parent-alerts")
    data, _, labelled, names = simulated_renewals(root, accounts=300, months=18, seed=11, parents_share=0.4)
    plain = simulated_renewals.copy_without(data, root / "plain", PARENT_ID)
    simulated_renewals.save(labelled, names, 30, root / "model")
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(root)  # no params.yaml: defaults (the shipped plays)
        for data, out in ((root / "data", root / "outputs"), (plain, root / "plain-outputs")):
            for as_of in DATES:
                assert main([*LOOSE, "--set", f"score.out_dir={out}", "score", "--as-of", as_of,
                             "--no-report", "--dry-run", "--data", str(data),
                             "--model", str(root / "model")]) == 0
    return root


def test_parents_are_alerted_by_the_accounts_rules_with_the_accounts_behind_them(project):
    layout = OutputLayout(project / "outputs")
    alerts = layout.read_table("parent_alerts", DATES[1])
    assert list(alerts.columns) == list(PARENT_ALERT_COLUMNS) and len(alerts) > 0
    now = layout.read_table("parents", DATES[1]).set_index(PARENT_ID)
    before = layout.read_table("parents", DATES[0]).set_index(PARENT_ID)
    for row in alerts.to_dict("records"):
        parent = row[PARENT_ID]
        assert row["health_score"] == now.loc[parent, "health_score"] and row["band"] == now.loc[parent, "band"]
        assert row["previous_score"] == before.loc[parent, "health_score"]
        assert row["score_change"] <= -2 or "new_red" in row["kind"] or "band_drop" in row["kind"]
        assert "% of ARR" in row["reason"]  # an account that fell, with its share of the parent's ARR
    risk = layout.read_table("risk_list", DATES[1])
    named = alerts["reason"].str.split(": ").str[0]
    assert named.isin(risk["name"]).all()
    assert layout.read_table("parent_alerts", DATES[0]).empty  # the first date: nothing to compare with


def test_parent_alerts_become_tasks_sent_with_the_accounts(project, capsys):
    layout = OutputLayout(project / "outputs")
    tasks = layout.read_table("parent_tasks", DATES[1])
    assert list(tasks.columns) == [PARENT_ID if c == "account_id" else c for c in TASK_COLUMNS]
    assert len(tasks) > 0 and tasks[PARENT_ID].isin(layout.read_table("parent_alerts", DATES[1])[PARENT_ID]).all()
    assert tasks["name"].str.contains("parent", case=False).all() and (tasks["arm"] == "task").all()
    accounts = layout.read_table("tasks", DATES[1])
    assert not set(tasks["task_id"]) & set(accounts["task_id"])
    capsys.readouterr()
    hook = ["--set", "notify.webhook.enabled=true", "--set", "notify.webhook.url=http://127.0.0.1:9/hook"]
    assert main([*hook, "--set", f"score.out_dir={project / 'outputs'}", "notify", "--dry-run"]) == 0
    sent = int((accounts["arm"] == "task").sum()) + len(tasks)
    assert f"({sent} tasks, " in capsys.readouterr().out  # the parents' go with the accounts'
    from healthscore.notify.messages import webhook_body
    from healthscore.plays.hook import sent_tasks

    body = webhook_body(sent_tasks(accounts, tasks), as_of=pd.Timestamp(DATES[1])).decode()
    assert tasks["name"].iloc[0].replace('"', '\\"') in body


def test_the_call_list_has_parent_lines_naming_their_accounts(project, capsys):
    layout = OutputLayout(project / "outputs")
    calls = pd.read_csv(layout.calls(DATES[1]))
    assert list(calls.columns) == [*CALL_COLUMNS, "line", "children"]
    parents = calls.loc[calls["line"] == "parent"]
    alerted = layout.read_table("parent_alerts", DATES[1])[PARENT_ID]
    assert len(parents) and set(alerted) <= set(parents["account_id"])
    assert parents["children"].notna().all() and (parents["children"].str.len() > 0).all()
    risk = layout.read_table("risk_list", DATES[1])
    first = parents.iloc[0]
    assert first["children"].split(" (")[0] in set(risk["name"])
    # each owner's lines ranked together, the most money at stake first
    for _, group in calls.groupby("owner"):
        assert group["rank"].tolist() == list(range(1, len(group) + 1))
        assert group["priority"].is_monotonic_decreasing
    capsys.readouterr()
    assert main([*LOOSE, "--set", f"score.out_dir={project / 'outputs'}", "calls", "--owner",
                 str(first["owner"])]) == 0
    text = capsys.readouterr().out
    assert f"{first['name']} (#{first['account_id']})" in text and "accounts: " in text


def test_a_parent_has_a_trend_in_explain(project, capsys):
    layout = OutputLayout(project / "outputs")
    from healthscore.scoring.history import read_parent_history

    parents = layout.read_table("parents", DATES[1])
    trend = read_parent_history(layout, parent_ids=[parents[PARENT_ID].iloc[0]])
    assert trend["as_of"].dt.strftime("%Y-%m-%d").tolist() == list(DATES)
    everyone = read_parent_history(layout)
    assert len(everyone) == len(parents) + len(layout.read_table("parents", DATES[0]))
    row = parents.iloc[0]
    capsys.readouterr()
    assert main(["--set", f"score.out_dir={project / 'outputs'}", "explain", str(row[PARENT_ID])]) == 0
    text = capsys.readouterr().out
    assert f"Trend: {DATES[0]} {trend['health_score'].iloc[0]} -> {DATES[1]} {row['health_score']}" in text


def test_without_the_column_no_parent_output_and_the_same_bytes(project):
    with_parents, plain = project / "outputs", project / "plain-outputs"
    for kind in ("parents", "parent_alerts", "parent_tasks", "parent_drivers"):
        assert not (plain / kind).exists(), kind
    for as_of in DATES:
        for part in (f"alerts/{as_of}.parquet", f"tasks/{as_of}.parquet"):
            assert (plain / part).read_bytes() == (with_parents / part).read_bytes(), part
        calls = pd.read_csv(plain / "calls" / f"{as_of}.csv")
        assert list(calls.columns) == list(CALL_COLUMNS)  # no line or children column
        mixed = pd.read_csv(with_parents / "calls" / f"{as_of}.csv")
        accounts = mixed.loc[mixed["line"] == "account", list(CALL_COLUMNS)].drop(columns="rank")
        pd.testing.assert_frame_equal(accounts.sort_values(["owner", "account_id"]).reset_index(drop=True),
                                      calls.drop(columns="rank").sort_values(["owner", "account_id"])
                                      .reset_index(drop=True), check_dtype=False)


def test_the_report_shows_each_alerted_parent_with_its_alert(project, tmp_path):
    from html.parser import HTMLParser

    from healthscore.config import ReportParams
    from healthscore.report import read_report_inputs, write_report
    from healthscore.scoring.wording import alert_kinds

    inputs = read_report_inputs(project / "outputs", as_of=DATES[1])
    alerts = OutputLayout(project / "outputs").read_table("parent_alerts", DATES[1])
    assert len(inputs.parent_alerts) == len(alerts) > 0
    write_report(inputs, ReportParams(), out_dir=tmp_path / "report")
    page = (tmp_path / "report" / "parents.html").read_text()

    class Alerts(HTMLParser):  # the parent each alert paragraph sits under, and its text
        def __init__(self):
            super().__init__()
            self.parent, self.inside, self.found = None, False, {}

        def handle_starttag(self, tag, attrs):
            attrs = dict(attrs)
            if "data-members-of" in attrs:
                self.parent = attrs["data-members-of"]
            if attrs.get("data-testid") == "parent-alert":
                self.inside, self.found[self.parent] = True, ""

        def handle_endtag(self, tag):
            if tag == "p":
                self.inside = False

        def handle_data(self, data):
            if self.inside:
                self.found[self.parent] += data

    parser = Alerts()
    parser.feed(page)
    assert set(parser.found) == {str(p) for p in alerts[PARENT_ID]}
    for row in alerts.to_dict("records"):
        shown = parser.found[str(row[PARENT_ID])]
        assert shown.startswith(f"Alert: {alert_kinds(row['kind'])}") and row["reason"] in shown
    assert f'data-testid="parents-alerted">{len(alerts)}<' in page
