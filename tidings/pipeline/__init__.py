"""The pipeline runner: steps that move rows from one state to the next, and the worker loop."""
