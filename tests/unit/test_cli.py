"""CLI exit codes and one-line error messages."""

import subprocess
import sys

import pandas as pd
import pytest

from healthscore.cli import main, one_line


@pytest.fixture
def source(tmp_path):
    folder = tmp_path / "data"
    folder.mkdir()
    pd.DataFrame({"account_id": [1, 2], "segment": ["SMB", "SMB"]}).to_csv(folder / "accounts.csv", index=False)
    pd.DataFrame({"account_id": [1, 2], "start_date": ["2024-01-01", "2024-01-01"],
                  "end_date": ["2025-01-01", "2025-01-01"]}).to_csv(folder / "subscriptions.csv", index=False)
    return folder


def test_validate_prints_a_summary(source, capsys):
    assert main(["validate", "--data", str(source)]) == 0
    out = capsys.readouterr().out
    assert "accounts: 2" in out
    assert "subscriptions" in out and "problems: none" in out


def test_user_error_is_one_line_and_exit_2(tmp_path, capsys):
    assert main(["validate", "--data", str(tmp_path / "missing")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert err[0].startswith("healthscore validate: error: data source")
    assert "Traceback" not in capsys.readouterr().err


def test_bad_table_names_table_column_and_example(source, capsys):
    pd.DataFrame({"account_id": [1], "issued_at": ["2024-01-01"], "due_at": ["2024-02-01"],
                  "amount": [-3]}).to_csv(source / "invoices.csv", index=False)
    assert main(["validate", "--data", str(source)]) == 2
    out = capsys.readouterr().out
    assert "invoices.amount" in out and "negative" in out and "amount=-3" in out


def test_many_problems_fold_into_one_line():
    from healthscore.errors import ValidationError
    from healthscore.data.problems import Problem

    problems = [Problem("events", "timestamp", "have an unparsable timestamp", 2, {"timestamp": "x"}, "stop"),
                Problem("tickets", "csat", "are negative", 1, {"csat": -1}, "stop")]
    line = one_line(ValidationError(problems))
    assert "\n" not in line
    assert line.startswith("events.timestamp: 2 row(s)") and "1 more problem" in line


def test_unknown_params_key_exits_2(source, capsys):
    assert main(["--set", "timeline.lead_tme_days=3", "validate", "--data", str(source)]) == 2
    assert "unknown key timeline.lead_tme_days" in capsys.readouterr().err


def test_debug_shows_the_traceback(tmp_path):
    with pytest.raises(Exception, match="does not exist"):
        main(["--debug", "validate", "--data", str(tmp_path / "missing")])


def test_console_script_exit_status(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "healthscore.cli", "validate", "--data", str(tmp_path / "nope")],
                          capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr


def test_usage_error_is_argparse_exit_2(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["no-such-command"])
    assert exc.value.code == 2


def test_simulate_can_write_a_bucketed_source(tmp_path, capsys):
    from healthscore.io.buckets import read_bucket, read_meta

    out = tmp_path / "buckets"
    assert main(["simulate", "--accounts", "60", "--months", "4", "--buckets", "2", "--out", str(out)]) == 0
    assert "2 account buckets" in capsys.readouterr().out
    assert read_meta(out)["buckets"] == 2
    assert sum(len(read_bucket(out, k).accounts) for k in range(2)) == 60
    assert main(["simulate", "--accounts", "60", "--buckets", "2", "--format", "csv",
                 "--out", str(tmp_path / "csv")]) == 2
    assert "Parquet only" in capsys.readouterr().err
