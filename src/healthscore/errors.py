"""The project's exception hierarchy.

Every error a user can cause (a bad ``params.yaml``, a malformed table, a missing
model) is a :class:`HealthscoreError`. The CLI turns these into one readable line and
exit status 2; anything else is a bug: one line naming the command and exit status 1,
its traceback with ``--debug``.
"""

from __future__ import annotations


class HealthscoreError(Exception):
    """Base class of every error a user can cause and fix."""


class ConfigError(HealthscoreError):
    """``params.yaml`` or a ``--set`` override is wrong: unknown key, wrong type."""


class UsageError(HealthscoreError):
    """A command-line argument cannot work: e.g. a folder where a file is expected."""


class DataError(HealthscoreError):
    """An input table breaks the data contract (DESIGN.md section 1)."""


class NoActiveAccountsError(DataError):
    """No account is a customer on the date asked (nothing to score)."""


class SchemaError(DataError):
    """A required table or column is missing."""


class ValidationError(DataError):
    """Rows of a table are invalid and cannot be dropped safely.

    Parameters
    ----------
    problems : list of Problem
        Every problem found; the message lists them one per line.
    """

    def __init__(self, problems):
        self.problems = list(problems)
        lines = [p.describe() for p in self.problems]
        super().__init__(
            f"{len(lines)} data problem(s) stop the run:\n  " + "\n  ".join(lines)
            if len(lines) > 1
            else lines[0]
        )


class ProvenanceError(HealthscoreError):
    """A persisted artifact's sidecar is missing or does not match what reads it."""


class ModelError(HealthscoreError):
    """A model cannot be trained, loaded or used as asked."""


class InsufficientDataError(ModelError):
    """Too few churned rows to learn from; the rule scorecard is recommended."""


class GateError(ModelError):
    """A quality gate refused to promote a model."""


class OutputError(HealthscoreError):
    """An output folder cannot be written as asked: it is a file, or it holds files
    healthscore did not write."""


class FolderLockedError(OutputError):
    """Another run holds the output folder's lock (:mod:`healthscore.io.staging`)."""
