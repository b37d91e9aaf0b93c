"""Channel URLs at rest: Fernet (AES-128-CBC + HMAC-SHA256) under keys from the settings."""

from __future__ import annotations

from collections.abc import Sequence

from cryptography.fernet import Fernet, InvalidToken, MultiFernet


class UndecryptableUrl(ValueError):
    """A stored URL was encrypted under a key this process does not have."""


class ChannelCipher:
    """Encrypts channel URLs with the first key; decrypts with any (to rotate keys)."""

    def __init__(self, keys: Sequence[str]) -> None:
        if not keys:
            raise ValueError("at least one key is needed")
        self._fernet = MultiFernet([Fernet(key.encode("ascii")) for key in keys])

    def encrypt(self, url: str) -> str:
        """Return the URL encrypted (a random IV each time, so equal URLs differ)."""
        return self._fernet.encrypt(url.encode()).decode("ascii")

    def decrypt(self, token: str) -> str:
        """Return the URL; raise UndecryptableUrl when no key fits or it was tampered with."""
        try:
            return self._fernet.decrypt(token.encode("ascii")).decode()
        except (InvalidToken, UnicodeError):
            raise UndecryptableUrl("channel URL cannot be decrypted with CHANNEL_KEY") from None
