"""The API's JSON body parser, bounded: a body larger than `API_MAX_BODY_BYTES` is a `413`,
one nested deeper than `API_MAX_JSON_DEPTH` (or not JSON, or with NaN/Infinity) a `400`,
each a problem+json answer logged at WARNING with the reason and no traceback.

DRF's own JSONParser reads whatever the client sends and hands it to `json.loads`, whose
recursion on 20,000 nested brackets ends in a RecursionError, a 500. The depth is
measured before parsing, in one pass over the text that skips string contents.
"""

from __future__ import annotations

import codecs
import json
import logging
from typing import Any

from django.conf import settings
from rest_framework.parsers import JSONParser

from skeldir.problems import ApiProblem

logger = logging.getLogger("skeldir.requests")


class BoundedJSONParser(JSONParser):
    def parse(self, stream: Any, media_type: str | None = None, parser_context: dict[str, Any] | None = None) -> Any:
        parser_context = parser_context or {}
        encoding = parser_context.get("encoding", settings.DEFAULT_CHARSET)
        limit = settings.API_MAX_BODY_BYTES
        raw = stream.read(limit + 1) if stream is not None else b""
        if len(raw) > limit:
            raise _refused(413, "payload_too_large", f"The request body is larger than {limit} bytes.")
        try:
            text = codecs.decode(raw, encoding)
        except (UnicodeDecodeError, LookupError):
            raise _refused(400, "parse_error", f"The request body is not valid {encoding}.") from None
        if json_depth(text) > settings.API_MAX_JSON_DEPTH:
            raise _refused(
                400, "parse_error", f"The JSON body is nested deeper than {settings.API_MAX_JSON_DEPTH} levels."
            )
        try:
            return json.loads(text, parse_constant=_no_constant)
        except ValueError as exc:
            raise _refused(400, "parse_error", f"The request body is not valid JSON: {str(exc)[:120]}") from None


def json_depth(text: str) -> int:
    """The deepest nesting of `[` and `{` in JSON text, brackets inside strings ignored."""
    depth = deepest = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _refused(status: int, code: str, detail: str) -> ApiProblem:
    logger.warning("request_body_refused", extra={"event": "request_body_refused", "status": status, "reason": detail})
    return ApiProblem(status, code, detail)
