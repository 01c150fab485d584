"""The risk table's JSON (report.portfolio.table_rows / table_json): every record's keys
and values as the page's script reads them, missing numbers as null, the first driver,
links only for accounts with a page, safe inside a <script> element."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from healthscore.report.portfolio import table_json, table_records, table_rows


def _risk_list(**extra) -> pd.DataFrame:
    return pd.DataFrame({
        "account_id": [7, 8], "name": ["Zoë & Co <b>", "Initech"], "owner": ["ana", "bo"],
        "segment": ["SMB", "Enterprise"], "band": ["red", "green"],
        "health_score": [23.0, 81.0], "risk_proba": [0.372149, np.nan], "arr": [12000.5, 90000.0],
        "arr_at_risk": [4465.7891, 0.0],
        "renewal_date": pd.to_datetime(["2025-02-01", None]), "days_to_renewal": [64.6, np.nan],
        "renewal_risk": [0.21234, 0.01], "score_change": [np.nan, -3.0],
        "top_drivers": [["Days overdue: 45 (-12 pts)", "Seats used (-3 pts)"], []],
        **extra,
    })


def test_records_as_the_script_reads_them():
    page = str(table_json(table_rows(_risk_list(), pages={7: "accounts/7.html"})))
    assert "<" not in page and ">" not in page and "&" not in page and "'" not in page
    assert json.loads(page)["columns"][:3] == ["id", "name", "owner"]  # each key once
    assert table_records(page) == [
        {"id": "7", "name": "Zoë & Co <b>", "owner": "ana", "segment": "SMB", "band": "red",
         "score": 23.0, "risk": 0.3721, "arr": 12000.5, "arr_at_risk": 4465.79, "renewal": "2025-02-01",
         "days": 65, "renewal_risk": 0.2123, "change": None, "driver": "Days overdue: 45 (-12 pts)",
         "href": "accounts/7.html"},
        {"id": "8", "name": "Initech", "owner": "bo", "segment": "Enterprise", "band": "green",
         "score": 81.0, "risk": None, "arr": 90000.0, "arr_at_risk": 0.0, "renewal": None,
         "days": None, "renewal_risk": 0.01, "change": -3.0, "driver": "", "href": None},
    ]


def test_the_expansion_chance_only_with_an_expansion_model():
    plain = table_records(str(table_json(table_rows(_risk_list(), pages={}))))
    assert all("expansion" not in r for r in plain)
    grown = table_records(str(table_json(table_rows(_risk_list(expansion_proba=[0.45678, np.nan]), pages={}))))
    assert [r["expansion"] for r in grown] == [0.4568, None]


def test_the_text_is_pandas_split_text():
    """The columns written once and the data by the "values" encoder: the very text of
    pandas' ``orient="split"`` (made safe for a script), missing values and links included."""
    records = table_rows(_risk_list(expansion_proba=[0.45678, np.nan]), pages={7: "accounts/7.html"})
    split = records.to_json(orient="split", index=False, double_precision=15, force_ascii=True)
    assert str(table_json(records)) == split.translate(
        str.maketrans({"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "'": "\\u0027"}))
