"""Channel URLs: Apprise validates without sending; the masked form hides every secret."""

from __future__ import annotations

import pytest

from betteruptime.notify.crypto import ChannelCipher, UndecryptableUrl
from betteruptime.notify.urls import InvalidChannelUrl, mask_url, parse_channel_url

KEY_A = "uVd3Q2cPjSx2fJ7sI0OTeSLmU2Et3Ixz1dSkaSGHvOo="
KEY_B = "8xI3bSPFm9IDxRk3LwXzZ8yZc6v1cZkQn9dbc1q2V2k="


@pytest.mark.parametrize(
    ("url", "scheme", "masked"),
    [
        (
            "json://user:s3cret@hooks.example.com:8443/path/t0ken?x=1",
            "json",
            "json://***@hooks.example.com:8443/***",
        ),
        ("form://127.0.0.1:9000/hook", "form", "form://127.0.0.1:9000/***"),
        ("mailto://me:app-password@gmail.com", "mailto", "mailto://***@gmail.com"),
        ("slack://T1234ABCD/B5678EFGH/abcdefghijklmnop", "slack", "slack://***/***"),
        ("discord://123456789/webhook-token-abc", "discord", "discord://***/***"),
        ("tgram://123456789:AAbbCCddEE/987654", "tgram", "tgram://***"),
        ("ntfy://ntfy.sh/my-secret-topic", "ntfy", "ntfy://ntfy.sh/***"),
    ],
)
def test_valid_urls_give_scheme_and_a_mask_without_secrets(
    url: str, scheme: str, masked: str
) -> None:
    parsed = parse_channel_url(url)
    assert (parsed.scheme, parsed.masked) == (scheme, masked)
    for secret in (
        "s3cret",
        "t0ken",
        "app-password",
        "T1234ABCD",
        "webhook-token",
        "AAbb",
        "my-secret",
    ):
        assert secret not in parsed.masked


@pytest.mark.parametrize(
    "url",
    [
        "",
        "hooks.example.com/x",
        "nosuchservice://host/path",
        "json://",
        "http://example.com/hook",
        "slack://",
        "mailto://",
        "json://host/ with space",
        "json://host/\x00",
        "json://" + "a" * 2100,
        "json://hooks.example.com/" + "é" * 1100,  # under 2,048 characters, over 2,048 bytes
        "x" * 40 + "://hooks.example.com/",
    ],
)
def test_unknown_or_malformed_urls_are_refused(url: str) -> None:
    with pytest.raises(InvalidChannelUrl):
        parse_channel_url(url)


def test_mask_of_garbage_reveals_nothing() -> None:
    assert mask_url("no scheme at all") == "***"
    assert mask_url("json://[bad/secret") == "json://***"


def test_cipher_round_trip_random_iv_and_key_rotation() -> None:
    url = "slack://T1234ABCD/B5678EFGH/abcdefghijklmnop"
    old = ChannelCipher([KEY_A])
    token = old.encrypt(url)
    assert url not in token and "abcdefghijklmnop" not in token
    assert old.encrypt(url) != token  # a fresh IV: equal URLs do not look equal at rest
    rotated = ChannelCipher([KEY_B, KEY_A])
    assert rotated.decrypt(token) == url
    with pytest.raises(UndecryptableUrl):
        old.decrypt(rotated.encrypt(url))  # new data uses the new key
    with pytest.raises(UndecryptableUrl):
        ChannelCipher([KEY_B]).decrypt(token)
    with pytest.raises(UndecryptableUrl):
        old.decrypt(token[:-4] + "AAAA")
