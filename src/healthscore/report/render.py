"""Scoring outputs -> HTML text, through autoescaping Jinja2 templates.

:func:`render_report` is pure: the same inputs give the same files, byte for byte (no
clock, no randomness). Every page inlines its style and script, so a single page
opens from disk, mails as one file and loads nothing from a network; a Content
Security Policy in each page says so to the browser (``default-src 'none'``, the one
inline script allowed by its hash).
"""

from __future__ import annotations

import base64
import functools
import hashlib
from importlib import resources
from typing import Any

import jinja2
from markupsafe import Markup

from healthscore.scoring import wording as text
from healthscore.report.account import account_filename, build_account, records_by_account
from healthscore.report.inputs import ReportInputs, normalise_inputs, riskiest
from healthscore.report.growth import GROWTH_PAGE, build_growth, has_growth
from healthscore.report.modelpage import build_model_page
from healthscore.report.parents import PARENTS_PAGE, build_parents, has_parents_view
from healthscore.report.portfolio import build_portfolio


#: Alerts listed on the overview before the rest fold away (under "Show the other N").
ALERTS_SHOWN = 12


@functools.lru_cache(maxsize=1)
def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("healthscore.report", "templates"),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html", "j2"), default=True),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["band_label"] = text.band_label
    return env


@functools.lru_cache(maxsize=None)
def _static(name: str) -> str:
    return resources.files("healthscore.report").joinpath("static", name).read_text(encoding="utf-8")


def _script_hash(script: str) -> str:
    digest = hashlib.sha256(script.encode("utf-8")).digest()
    return Markup("'sha256-" + base64.b64encode(digest).decode("ascii") + "'")


def render_report(inputs: ReportInputs, params: Any) -> dict[str, str]:
    """Render the report: relative file name -> HTML text.

    Parameters
    ----------
    inputs : ReportInputs
        The scoring outputs of one as-of date (see :mod:`healthscore.report.inputs`);
        normalised here.
    params : ReportParams
        ``title``, ``top_movers``, ``max_accounts`` (account pages for the riskiest N
        only), ``drivers_shown``, ``driver_min_points``, ``outcome``, ``currency``,
        ``next_steps``, ``renewal_days``.

    Returns
    -------
    dict of str to str
        ``index.html`` (overview and risk list), ``model.html`` and one
        ``accounts/<account_id>.html`` per account with a page.
    """
    data = normalise_inputs(inputs, detail_accounts=params.max_accounts,
                            min_points=params.driver_min_points)
    env = _environment()
    css, js = _static("report.css"), _static("report.js")
    scale = data.scale
    ids = riskiest(data.risk_list, params.max_accounts)
    pages = {account_id: account_filename(account_id) for account_id in ids}
    run = data.run_info
    common = {
        "title": params.title, "css": css, "as_of": text.date_text(data.as_of),
        "previous_as_of": text.date_text(data.previous_as_of),
        "model_version": str(data.model_info.get("version") or run.get("model_version") or "unversioned"),
        "package_version": str(run.get("package_version") or data.model_info.get("package_version") or ""),
        "csp_scripts": Markup("'none'"), "scale": scale,
        "horizon": text.horizon_words(data.horizon_days),
        "growth_page": GROWTH_PAGE if has_growth(inputs.risk_list) else None,
        "parents_page": PARENTS_PAGE if has_parents_view(inputs.parents) else None,
    }
    files: dict[str, str] = {}
    portfolio = build_portfolio(data, params, pages=pages)
    files["index.html"] = env.get_template("index.html.j2").render(
        **{**common, "csp_scripts": _script_hash(js)}, root="", page="overview", js=js,
        p=portfolio, min_points=params.driver_min_points,
        alerts_shown=ALERTS_SHOWN,
    )
    files["model.html"] = env.get_template("model.html.j2").render(
        **common, root="", page="model", m=build_model_page(data, params),
    )
    if common["growth_page"]:  # healthy accounts likely to expand (report/growth.py)
        files[GROWTH_PAGE] = env.get_template("growth.html.j2").render(
            **common, root="", page="growth", g=build_growth(
                inputs.risk_list, data.risk_list, run=run, pages=pages, currency=params.currency))
    if common["parents_page"]:  # parent accounts rolled up from their accounts (report/parents.py)
        files[PARENTS_PAGE] = env.get_template("parents.html.j2").render(
            **common, root="", page="parents", g=build_parents(
                inputs.parents, inputs.parent_drivers, inputs.risk_list, run=run, pages=pages,
                currency=params.currency, alerts=inputs.parent_alerts))
    template = env.get_template("account.html.j2")
    rows = {r["account_id"]: r for r in data.risk_list.loc[
        data.risk_list["account_id"].isin(ids)].to_dict("records")}
    parts = {name: records_by_account(frame, ids) for name, frame in (
        ("points", data.points), ("previous_points", data.previous_points),
        ("changes", data.changes), ("history", data.history), ("alerts", data.alerts),
        ("people", data.people))}
    for account_id, path in pages.items():
        view = build_account(
            rows[account_id], **{name: part[account_id] for name, part in parts.items()},
            previous_as_of=data.previous_as_of, scale=scale, params=params,
            horizon_days=data.horizon_days, profile=data.profile,
        )
        files[path] = template.render(**common, root="../", page="account", a=view,
                                      min_points=params.driver_min_points)
    return files
