"""The one-line usage error of every command line (exit code 2, no usage dump, no traceback)."""
from __future__ import annotations

import argparse

EXIT_BAD_INPUT = 2


class UsageError(Exception):
    """Bad command-line input: reported in one line, exit code 2."""


class OneLineParser(argparse.ArgumentParser):
    """argparse that reports a usage error in one line (no usage dump) and exits 2."""

    def error(self, message: str):  # noqa: D102 - argparse hook
        raise UsageError(message)
