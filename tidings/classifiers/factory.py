"""Build the classifier a deployment runs: the cascade, with the LLM when one is configured."""

from __future__ import annotations

from tidings.classifiers.base import Classifier, create
from tidings.config.settings import Settings


def classifier_for(settings: Settings) -> Classifier:
    """Local model first; the LLM for what it is unsure of, if ``TIDINGS_LLM__*`` is set."""
    return create("cascade", settings)
