#!/usr/bin/env python3
"""Cut the operations the project relies on out of a platform's published OpenAPI document.

    scripts/vendor_openapi_subset.py SPEC.json OUT.json "GET /v1/charges" "GET /v1/disputes" ...

Keeps `openapi`, `info`, `servers`, the named operations (with their path-level
parameters) and every component they reach through `$ref`, transitively; nothing else.
The result is test data for `tests/conformance/` (see each spec's SOURCE note for where the
input came from). Deterministic: keys sorted, so a re-run on the same input is byte-identical.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from typing import Any


def refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value
            else:
                yield from refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from refs(value)


def pointer(document: dict[str, Any], ref: str) -> tuple[list[str], Any]:
    if not ref.startswith("#/"):
        raise SystemExit(f"external reference {ref!r} cannot be vendored")
    parts = [p.replace("~1", "/").replace("~0", "~") for p in ref[2:].split("/")]
    node: Any = document
    for part in parts:
        node = node[part]
    return parts, node


def subset(document: dict[str, Any], operations: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {k: document[k] for k in ("openapi", "info", "servers") if k in document}
    out["paths"] = {}
    for spec in operations:
        method, _, path = spec.partition(" ")
        item = document["paths"].get(path)
        if item is None or method.lower() not in item:
            raise SystemExit(f"{spec!r} is not an operation of the document")
        kept = out["paths"].setdefault(path, {k: v for k, v in item.items() if k == "parameters"})
        kept[method.lower()] = item[method.lower()]
    pending = list(refs(out["paths"]))
    seen: set[str] = set()
    while pending:
        ref = pending.pop()
        if ref in seen:
            continue
        seen.add(ref)
        parts, node = pointer(document, ref)
        target = out
        for part in parts[:-1]:
            target = target.setdefault(part, {})
        target[parts[-1]] = node
        pending.extend(refs(node))
    return out


def main(argv: list[str]) -> int:
    if len(argv) < 4:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    source, target, *operations = argv[1:]
    with open(source) as handle:
        document = json.load(handle)
    with open(target, "w") as handle:
        json.dump(subset(document, operations), handle, indent=1, sort_keys=True)
        handle.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
