"""The one clock of the revenue engine (tests move it; nothing else reads wall time)."""

from datetime import datetime

from django.utils import timezone


def now() -> datetime:
    return timezone.now()
