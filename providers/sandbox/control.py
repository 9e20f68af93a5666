"""The control API under /_sandbox/ (JSON in, JSON out; never counted as platform calls).

GET    /_sandbox                 what is simulated, the clock, settings and active faults
POST   /_sandbox/faults          {"platform", "account" ("*" = all, default), "fault", params...}
GET    /_sandbox/faults          {"faults": [...]}
DELETE /_sandbox/faults          clear all (or ?platform=&account=)
GET    /_sandbox/calls           {"<platform>": {"<account>": n}}  (?platform=&account= to narrow;
                                 ?by=endpoint: {"<platform>": {"<endpoint>": n}})
POST   /_sandbox/oauth/apps      {"platform", "client_id", "client_secret"}: register an OAuth app
POST   /_sandbox/oauth/consent   {"platform", "accounts": [...] | null, "deny": bool}: the next consents
POST   /_sandbox/revoke          {"platform", "credential"}: refuse that exact credential
POST   /_sandbox/clock           {"now": "<RFC 3339>" | null}: pin or release the clock
POST   /_sandbox/config          {"timeout_ms", "page_cap", "token_ttl"} until the next reset
POST   /_sandbox/reset           faults, counts, revocations, clock and config back to start
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from providers.sandbox.core import FAULTS, BadRequest, Consent, Request, Response, make_fault
from providers.sandbox.data import parse_instant

if TYPE_CHECKING:
    from providers.sandbox.server import Dispatcher

SIMULATOR = "Skeldir provider sandbox: a local simulator of platform APIs for demos and tests, not a platform"


def handle(request: Request, dispatcher: Dispatcher) -> Response:
    state = dispatcher.state
    path, method = request.path.rstrip("/"), request.method
    try:
        if path == "/_sandbox" and method == "GET":
            return _ok(
                {
                    "simulator": SIMULATOR,
                    "platforms": sorted(dispatcher.platforms),
                    "faults_available": list(FAULTS),
                    "now": state.now().isoformat(),
                    "settings": dataclasses.asdict(state.settings),
                    "faults": [f.as_dict() for f in state.faults()],
                }
            )
        if path == "/_sandbox/faults":
            if method == "POST":
                body = _object(request)
                params = {k: v for k, v in body.items() if k not in ("platform", "account", "fault")}
                fault = make_fault(
                    str(body.get("platform")),
                    body.get("account", "*"),
                    str(body.get("fault")),
                    dispatcher.platforms,
                    **params,
                )
                state.set_fault(fault)
                return Response.json(201, {"fault": fault.as_dict()})
            if method == "GET":
                return _ok({"faults": [f.as_dict() for f in state.faults()]})
            if method == "DELETE":
                return _ok({"cleared": state.clear_faults(request.arg("platform"), request.arg("account"))})
        if path == "/_sandbox/calls" and method == "GET":
            calls = state.endpoint_calls() if request.arg("by") == "endpoint" else state.calls()
            platform, account = request.arg("platform"), request.arg("account")
            if platform is not None:
                calls = {platform: calls.get(platform, {})}
                if account is not None:
                    calls = {platform: {account: calls[platform].get(account, 0)}}
            return _ok(calls)
        if path == "/_sandbox/revoke" and method == "POST":
            body = _object(request)
            platform, credential = body.get("platform"), body.get("credential")
            if platform not in dispatcher.platforms or not isinstance(credential, str) or not credential:
                raise ValueError("revoke needs a known platform and a non-empty credential")
            state.revoke(platform, credential)
            return _ok({"revoked": True})
        if path == "/_sandbox/oauth/apps" and method == "POST":
            body = _object(request)
            platform = body.get("platform")
            client_id, client_secret = body.get("client_id"), body.get("client_secret")
            if (
                platform not in dispatcher.platforms
                or not isinstance(client_id, str)
                or not isinstance(client_secret, str)
                or not client_id
                or not client_secret
            ):
                raise ValueError("an app needs a known platform, a client_id and a client_secret")
            state.register_app(platform, client_id, client_secret)
            return Response.json(201, {"registered": {"platform": platform, "client_id": client_id}})
        if path == "/_sandbox/oauth/consent" and method == "POST":
            body = _object(request)
            platform, accounts = body.get("platform"), body.get("accounts")
            if platform not in dispatcher.platforms:
                raise ValueError(f"unknown platform {platform!r}")
            if accounts is not None and (
                not isinstance(accounts, list) or not all(isinstance(a, str) and a for a in accounts)
            ):
                raise ValueError("accounts must be a list of account ids, or null for the default")
            granted = tuple(accounts) if accounts is not None else None
            state.set_consent(platform, Consent(accounts=granted, deny=bool(body.get("deny"))))
            return _ok({"consent": {"platform": platform, "accounts": accounts, "deny": bool(body.get("deny"))}})
        if path == "/_sandbox/clock" and method == "POST":
            now = _object(request).get("now")
            state.set_now(parse_instant(now) if now else None)
            return _ok({"now": state.now().isoformat(), "pinned": bool(now)})
        if path == "/_sandbox/config" and method == "POST":
            changes = _object(request)
            fields = {f.name for f in dataclasses.fields(state.settings)}
            if set(changes) - fields:
                raise ValueError(f"unknown setting(s): {', '.join(sorted(set(changes) - fields))}")
            for name, value in changes.items():
                if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 1):
                    raise ValueError(f"{name} must be a positive integer or null")
            if changes.get("timeout_ms", 0) is None:
                raise ValueError("timeout_ms cannot be null")
            state.settings = dataclasses.replace(state.settings, **changes)
            return _ok({"settings": dataclasses.asdict(state.settings)})
        if path == "/_sandbox/reset" and method == "POST":
            state.reset()
            return _ok({"reset": True})
    except (ValueError, TypeError, BadRequest) as error:
        return Response.json(400, {"error": str(error)})
    return Response.json(404, {"error": f"no control endpoint {method} {request.path}"})


def _object(request: Request) -> dict[str, Any]:
    body = request.json()
    if not isinstance(body, dict):
        raise ValueError("expected a JSON object")
    return body


def _ok(payload: Any) -> Response:
    return Response.json(200, payload)
