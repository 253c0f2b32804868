"""Tidings: an agent that takes e-commerce exception email off an operations team."""

__version__ = "0.1.0"
