"""Real data nobody here wrote: fightchurn's socialnet7, mapped by configs/socialnet7.yaml.

Our renewal-mode rows and labels are compared with the book's ``observation`` table
(listing 4.4 of "Fighting Churn with Data"). Every difference has a known cause:

* rows only ours: churned periods whose churn date is on or before
  ``obs_start + 1 month - lead`` (2020-03-04). The book's anchor query keeps a period
  only when ``churn_date > obs_start + obs_interval - lead_time``, so those churns (all
  label 1) have no observation at all in the book;
* book false, ours 1: renewals after 2020-05-10 (observations 2020-05-06..2020-05-10).
  The book records no churn after its end date and labels them retained; the data shows
  the churn (it runs to 2020-06-01), so we label it. With ``observed_until`` at the book's
  end they would be censored (<NA>) here, never "retained".

Run as a script for the figures: ``python tests/integration/test_socialnet7.py``.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pandas as pd
import pytest

from healthscore.config import Params, read_params

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "configs" / "socialnet7.yaml"


def socialnet_params(**data_overrides) -> tuple[Params, Path]:
    """The config's params and the data folder resolved against the repository root."""
    params = read_params(CONFIG)
    folder = Path(params.data.source)
    folder = folder if folder.is_absolute() else (ROOT / folder).resolve()
    data = dataclasses.replace(params.data, source=str(folder), **data_overrides)
    return dataclasses.replace(params, data=data), folder


def compare_with_book(rows: pd.DataFrame, observation: pd.DataFrame, *,
                      obs_start: str = "2020-02-09", obs_end: str = "2020-05-10",
                      lead_days: int = 5) -> dict:
    """Join our label rows with the book's observations on (account, cutoff date).

    Parameters
    ----------
    rows : DataFrame
        ``account_id``, ``cutoff_time``, ``renewal_date``, ``label`` (ours).
    observation : DataFrame
        The book's ``account_id``, ``observation_date``, ``is_churn``.

    Returns
    -------
    dict
        Counts: ``book_rows``, ``our_rows``, ``matched``, ``only_ours``, ``only_book``,
        ``both_labelled``, ``agree``, ``ours_censored`` (matched rows we leave
        unlabelled) and the explained parts of the differences: ``only_ours_anchor``
        (the book's anchor filter), ``disagree_right_edge`` (the book's end-date
        artifact); ``unexplained`` lists what fits neither.
    """
    book = observation.assign(
        cutoff_time=pd.to_datetime(observation["observation_date"]).astype("datetime64[us]"),
        account_id=observation["account_id"].astype(rows["account_id"].dtype),
    )[["account_id", "cutoff_time", "is_churn"]]
    joined = rows.merge(book, on=["account_id", "cutoff_time"], how="outer", indicator=True)
    matched = joined[joined["_merge"] == "both"]
    only_ours = joined[joined["_merge"] == "left_only"]
    only_book = joined[joined["_merge"] == "right_only"]
    labelled = matched[matched["label"].notna()]
    agree = labelled["label"].astype(int) == labelled["is_churn"].astype(int)
    disagree = labelled[~agree]

    anchor = pd.Timestamp(obs_start) + pd.DateOffset(months=1) - pd.Timedelta(days=lead_days)
    by_anchor = (only_ours["renewal_date"] <= anchor) & (only_ours["label"] == 1)
    edge = (disagree["renewal_date"] > pd.Timestamp(obs_end)) & (disagree["label"] == 1) \
        & ~disagree["is_churn"].astype(bool)
    unexplained = pd.concat([only_ours[~by_anchor.to_numpy()], only_book, disagree[~edge.to_numpy()]])
    return {
        "book_rows": int(len(book)),
        "book_positives": int(book["is_churn"].sum()),
        "our_rows": int(len(rows)),
        "our_positives": int((rows["label"] == 1).sum()),
        "matched": int(len(matched)),
        "only_ours": int(len(only_ours)),
        "only_book": int(len(only_book)),
        "both_labelled": int(len(labelled)),
        "agree": int(agree.sum()),
        "ours_censored": int(matched["label"].isna().sum()),
        "only_ours_anchor": int(by_anchor.sum()),
        "disagree_right_edge": int(edge.sum()),
        "unexplained": unexplained[["account_id", "cutoff_time", "renewal_date", "label", "is_churn"]],
    }


def socialnet_comparison(**data_overrides) -> dict:
    from healthscore.io.sources import read_source
    from healthscore.dataset.labels import make_label_times

    params, folder = socialnet_params(**data_overrides)
    tables, _ = read_source(params.data)
    rows = make_label_times(tables, params.timeline, params.labels)
    observation = pd.read_parquet(folder / "observation.parquet")
    return compare_with_book(rows, observation)


@pytest.fixture(scope="module")
def data_folder() -> Path:
    _, folder = socialnet_params()
    if not (folder / "observation.parquet").exists():
        pytest.skip(f"socialnet7 data not found at {folder}")
    return folder


def test_socialnet7_rows_and_labels_match_the_book(data_folder):
    result = socialnet_comparison()
    assert result["matched"] >= 0.99 * result["book_rows"]
    assert result["agree"] >= 0.99 * result["both_labelled"]
    assert result["ours_censored"] == 0  # observed_until 2020-06-01 settles every book row
    assert result["unexplained"].empty, result["unexplained"]
    # the artifacts are there: our extra churns and the right-edge relabels
    assert result["only_ours_anchor"] == result["only_ours"] > 0
    assert result["disagree_right_edge"] == result["both_labelled"] - result["agree"]


def test_socialnet7_at_the_books_end_date_censors_instead_of_calling_retained(data_folder):
    result = socialnet_comparison(observed_until="2020-05-11")
    assert result["disagree_right_edge"] == 0
    assert result["ours_censored"] > 0
    assert result["agree"] >= 0.99 * result["both_labelled"]
    assert result["unexplained"].empty, result["unexplained"]


def test_socialnet7_builds_with_the_cli_and_the_scorecard_features_exist(data_folder, tmp_path, capsys):
    from healthscore import cli
    from healthscore.io.datasets import read_dataset

    out = tmp_path / "socialnet7.parquet"
    status = cli.main(["--params", str(CONFIG), "-q", "build-dataset", "--data", str(data_folder),
                       "--out", str(out)])
    assert status == 0
    assert str(out) in capsys.readouterr().out
    frame, meta = read_dataset(out)
    params, _ = socialnet_params()
    assert meta["rows"] == len(frame) and meta["censored"] == 0
    assert meta["positives"] == int((frame["label"] == 1).sum()) > 0
    assert frame["cutoff_time"].between(pd.Timestamp(params.timeline.start),
                                        pd.Timestamp(params.timeline.end)).all()
    names = set(meta["feature_names"])
    missing = [r.feature for r in params.scorecard.rules if r.feature not in names]
    assert not missing, f"configs/socialnet7.yaml scorecard names unknown features {missing}"
    assert {"accounts__segment", "events__newfriend__count__28d"} <= names


if __name__ == "__main__":  # pragma: no cover - prints the figures for the report
    for label, overrides in [("observed_until 2020-06-01 (config)", {}),
                             ("observed_until 2020-05-11 (book's end)", {"observed_until": "2020-05-11"})]:
        figures = socialnet_comparison(**overrides)
        unexplained = figures.pop("unexplained")
        print(label, figures, "unexplained:", len(unexplained))
