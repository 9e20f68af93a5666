"""Shared bits of the operator commands."""

from django.core.management.base import CommandError

# Bad arguments exit with 2 (as argparse does); scripts rely on it.
BAD_INPUT = 2


def bad_input(exc: Exception | str) -> CommandError:
    """One clear sentence from an exception's message, exit code 2."""
    text = str(exc).rstrip(".")
    return CommandError(text[:1].upper() + text[1:] + ".", returncode=BAD_INPUT)


def first_line(exc: BaseException) -> str:
    """An exception's message in one line (a driver's error runs over several), or its type."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
