#!/usr/bin/env python
"""Django's command-line utility for administrative tasks."""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "skeldir.settings")
    from django.core.exceptions import ImproperlyConfigured
    from django.core.management import execute_from_command_line

    try:
        execute_from_command_line(sys.argv)
    except ImproperlyConfigured as exc:
        # A missing or malformed setting: one sentence, no traceback (exit 78, EX_CONFIG).
        print(f"Configuration error: {exc}", file=sys.stderr)
        sys.exit(78)


if __name__ == "__main__":
    main()
