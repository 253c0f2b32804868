"""Resolvers: one per auto-fixable category, their guards, and the ``OrderAPI`` they act through."""
