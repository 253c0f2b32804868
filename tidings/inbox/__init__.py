"""Inbox: turn mailboxes and .eml files into committed, parsed email rows, each stored once.

One module per step: ``poll`` (threads, IDLE, reconnects) -> ``sync`` (UID cursor, commit then
flag) -> ``imap`` (the IMAP session) -> ``store`` (dedupe, quarantine); ``import_files`` for .eml
and Maildir; ``parse`` (the pipeline's first step) over ``headers``, ``mime``, ``charset``,
``html``, ``quotes``, ``language``, ``sender`` and ``patterns``; ``retry`` for quarantined mail.
"""
