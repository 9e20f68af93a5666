"""The connections API's bodies, from selector rows (never a token: they hold none)."""

from __future__ import annotations

from typing import Any

from connections.models import LifecycleStatus
from connections.services import FORBIDDEN


def connection_body(item: dict[str, Any]) -> dict[str, Any]:
    metadata = item.get("connection_metadata") or {}
    via = metadata.get("connected_via")
    credential = item.get("credential")
    return {
        "id": str(item["id"]),
        "platform": item["platform"],
        "account_id": item["platform_account_id"],
        "status": item["status"],
        "connected_via": via if via in ("oauth", "keys") else "operator",
        "created_at": _iso(item["created_at"]),
        "updated_at": _iso(item["updated_at"]),
        "credential": None if credential is None else {k: _iso(v) for k, v in credential.items()},
        "reconnect_required": reconnect_required(credential),
    }


def reconnect_required(credential: dict[str, Any] | None) -> bool:
    """No credential, or one a platform refused: only the merchant can bring it back."""
    if credential is None or credential["lifecycle_status"] == LifecycleStatus.REVOKED:
        return True
    degraded = credential["lifecycle_status"] == LifecycleStatus.DEGRADED
    return degraded and credential["last_failure_class"] == FORBIDDEN


def _iso(value: Any) -> Any:
    return value.isoformat().replace("+00:00", "Z") if hasattr(value, "isoformat") else value
