"""`healthscore score` (not yet built)."""

from __future__ import annotations

import argparse

from healthscore.errors import HealthscoreError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    pass


def run(args: argparse.Namespace, params) -> int:
    raise HealthscoreError("'score' is not built yet")
