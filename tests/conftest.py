"""Checkpoints loaded once per test session, for the files that check the suite against them.

``mistral_dna_reference`` is the real Mistral-DNA checkpoint as plain transformers loads it
(``AutoModel``, float32, with ``AutoTokenizer``): the reference that embeddings and vector
distances must equal. Paths stay in ``helpers.py``, which parametrize lists import.
"""

import pytest


@pytest.fixture(scope="session")
def mistral_dna_reference():
    # Imported here: the browser tests (tests/browser) run in the Galaxy venv, without torch or dnalm.
    import torch
    from helpers import MISTRAL_DNA
    from transformers import AutoModel, AutoTokenizer

    model = AutoModel.from_pretrained(MISTRAL_DNA, dtype=torch.float32).eval()
    return model, AutoTokenizer.from_pretrained(MISTRAL_DNA)
