"""The embedded demo: bundled brands, sample emails, and a generator of realistic orders."""
