"""Build the classifier a deployment runs: the cascade, with the LLM when one is configured."""

from __future__ import annotations

from tidings.classifiers.cascade import CascadeClassifier
from tidings.classifiers.llm import LLMClassifier
from tidings.classifiers.local import LocalClassifier
from tidings.classifiers.taxonomy import load_taxonomy
from tidings.config.settings import Settings


def classifier_for(settings: Settings) -> CascadeClassifier:
    """Local model first; the LLM for what it is unsure of, if ``TIDINGS_LLM__*`` is set."""
    llm = None
    if settings.llm.enabled:
        llm = LLMClassifier(settings.llm, taxonomy=load_taxonomy(settings.taxonomy_file))
    return CascadeClassifier(LocalClassifier(), llm)
