"""The HTML report for customer-success managers: a pure function of the scoring
outputs to static HTML, and the edge that writes it.

* :func:`render_report` ``(inputs, params) -> {relative name: HTML text}``: pure;
  ``index.html`` (portfolio overview and the risk list), ``model.html`` and
  ``accounts/<account_id>.html`` for the riskiest ``params.max_accounts`` accounts.
* :func:`write_report` ``(inputs, params, *, out_dir) -> index path``: renders and
  replaces ``out_dir`` atomically.
* :func:`read_report_inputs` ``(outputs_dir, *, as_of=None, model_dir=None)``: the
  scoring outputs of a date as :class:`ReportInputs`.

The pages open from disk, need no server and load nothing from the network.
"""

from healthscore.report.inputs import ReportInputs, normalise_inputs
from healthscore.report.loaders import read_model_info, read_report_inputs
from healthscore.report.render import render_report
from healthscore.report.writer import write_files, write_report

__all__ = [
    "ReportInputs",
    "normalise_inputs",
    "read_model_info",
    "read_report_inputs",
    "render_report",
    "write_files",
    "write_report",
]
