"""Every setting the service reads from the environment is documented in the README, so an
operator can find it without reading the code."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
READ_FROM_ENVIRONMENT = [
    re.compile(r'env(?:\.[a-z]+)?\(\s*"([A-Z][A-Z0-9_]+)"'),  # django-environ
    re.compile(r'environ(?:\.get|\.setdefault)?\(\s*"([A-Z][A-Z0-9_]+)"'),
    re.compile(r'environ\[\s*"([A-Z][A-Z0-9_]+)"\]'),
]
SOURCES = ("skeldir/settings.py", "gunicorn.conf.py")


def _read_settings() -> set[str]:
    names: set[str] = set()
    for source in SOURCES:
        text = (ROOT / source).read_text()
        for pattern in READ_FROM_ENVIRONMENT:
            names.update(pattern.findall(text))
    return names


def test_every_environment_setting_is_in_the_readme():
    readme = (ROOT / "README.md").read_text()
    documented = set(re.findall(r"`([A-Z][A-Z0-9_]+)`", readme))
    names = _read_settings()
    assert len(names) > 50  # the scan found the settings at all
    missing = sorted(names - documented)
    assert not missing, f"settings read from the environment but not documented in the README: {missing}"
