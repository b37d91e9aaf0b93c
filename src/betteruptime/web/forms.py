"""Turning form fields into the API's input models, and their errors into field messages."""

from __future__ import annotations

from pydantic import ValidationError

from betteruptime.inputs import InputError

# Pydantic's messages for the rules a form can break, in words for people.
_FRIENDLY = {
    "string_too_short": "is required",
    "int_type": "must be a whole number",
    "int_parsing": "must be a whole number",
}


def field_errors(exc: ValidationError) -> dict[str, str]:
    """Return one message per field name (the first error of each), never the value."""
    errors: dict[str, str] = {}
    for error in exc.errors():
        loc = [part for part in error["loc"] if isinstance(part, str)]
        name = loc[0] if loc else "form"
        if name in errors:
            continue
        message = str(error.get("msg", "is not valid")).removeprefix("Value error, ")
        if error["type"] == "string_too_short" and error.get("ctx", {}).get("min_length") == 1:
            message = _FRIENDLY["string_too_short"]
        elif error["type"] in _FRIENDLY and error["type"] != "string_too_short":
            message = _FRIENDLY[error["type"]]
        errors[name] = message
    return errors


def input_errors(exc: InputError) -> dict[str, str]:
    """Return the message of a settings or database rule under its field's name."""
    return {str(exc.loc[-1]) if exc.loc else "form": exc.msg}


def whole_number(value: str) -> int | str | None:
    """Return a form's number as an int, None when blank, else the text (the model refuses it)."""
    text = value.strip()
    if not text:
        return None
    if text.isascii() and text.isdigit():
        return int(text)
    return text
