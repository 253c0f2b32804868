"""The web app: ``create_app`` in ``app.py``; one router per resource in ``routes/``; shared
dependencies and access policies in ``deps.py``; pages in ``templates/`` over ``static/``."""
