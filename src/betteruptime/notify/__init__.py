"""Notification channels: Apprise URLs (validated, masked, encrypted) and guarded sends.

The only package that imports Apprise. Like `checks`, it is a library of outbound
connections to user-given targets: it never imports the database, the API or settings.
"""
