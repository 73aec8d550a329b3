"""`ocrserve export...` commands (being written; registers nothing yet)."""
from __future__ import annotations

import argparse


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Register this module's sub-commands on the ocrserve parser."""
