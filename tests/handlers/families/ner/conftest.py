from __future__ import annotations

import pytest

from ._tiny import train_tiny


@pytest.fixture(scope="session")
def tiny_ner(tmp_path_factory):
    """(checkpoint, vocab, report) of the tiny tagger, trained once per session."""
    return train_tiny(tmp_path_factory.mktemp("ner-tiny"))
