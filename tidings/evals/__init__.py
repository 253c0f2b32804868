"""Evals: labelled datasets, the runner, metrics and reports. No database, no network."""
