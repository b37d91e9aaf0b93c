"""Facts every check shares, whatever its kind: schedule bounds and the error text limit."""

from __future__ import annotations

# Longest interval and timeout a website may have. The API refuses more, the settings'
# defaults may not exceed them, and other limits (e.g. claiming idle messages) relate to them.
MAX_INTERVAL_SECONDS = 86_400
MAX_TIMEOUT_SECONDS = 60

# Longest error text of a check result: checks shorten to it and the columns hold it.
ERROR_MAX_LENGTH = 255
