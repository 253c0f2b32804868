"""Classifiers: decide what an email is. Local model first, an LLM for what it is unsure of."""
