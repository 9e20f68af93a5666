"""Reading the operators' admin pages in tests: the change list's rows as
{link text: {column: text}}, and the messages shown."""

from __future__ import annotations

import html
import re
from typing import Any

_ROW = re.compile(r"<tr[^>]*>(.*?)</tr>", re.S)
_CELL = re.compile(r'<t[dh] class="[^"]*\bfield-(\w+)[^"]*"[^>]*>(.*?)</t[dh]>', re.S)
_TAG = re.compile(r"<[^>]+>")
_MESSAGE = re.compile(r'<li class="(\w+)">(.*?)</li>', re.S)


def text(fragment: str) -> str:
    return html.unescape(_TAG.sub("", fragment)).strip()


def change_list_rows(response: Any, key: str) -> dict[str, dict[str, str]]:
    """The result table's rows keyed by the text of column `key`."""
    page = response.content.decode()
    table = page.split('id="result_list"', 1)[1].split("</table>", 1)[0] if 'id="result_list"' in page else ""
    rows = {}
    for row in _ROW.findall(table):
        cells = {name: text(value) for name, value in _CELL.findall(row)}
        if key in cells:
            rows[cells[key]] = cells
    return rows


def page_messages(response: Any) -> list[tuple[str, str]]:
    page = response.content.decode()
    block = page.split('class="messagelist"', 1)[1].split("</ul>", 1)[0] if 'class="messagelist"' in page else ""
    return [(level, text(body)) for level, body in _MESSAGE.findall(block)]
