"""Accounts for the web app: users and roles, password logins with server-side sessions, API
tokens, and login rate limits. The web app and the CLI both call these; neither repeats them."""
