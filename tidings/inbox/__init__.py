"""Inbox: turn mailboxes and .eml files into committed, parsed email rows, each stored once."""
