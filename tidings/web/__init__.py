"""The web app: queue health now; review queue, template editor and auth in later issues."""
