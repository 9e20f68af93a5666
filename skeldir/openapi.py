"""OpenAPI pieces shared by every API operation: the problem body, the correlation and
caching headers, and the bearer scheme (drf-spectacular)."""

from __future__ import annotations

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse
from rest_framework import serializers


class ProblemSerializer(serializers.Serializer):
    """RFC 9457 problem details, as every error of this API is answered."""

    type = serializers.URLField()
    title = serializers.CharField()
    status = serializers.IntegerField(min_value=100, max_value=599)
    detail = serializers.CharField()
    instance = serializers.CharField(help_text="urn:uuid:<correlation id>")
    correlation_id = serializers.UUIDField()
    timestamp = serializers.DateTimeField()
    code = serializers.CharField(help_text="Stable, machine-readable error code")


CORRELATION_ID = OpenApiParameter(
    "X-Correlation-ID",
    OpenApiTypes.UUID,
    OpenApiParameter.HEADER,
    required=True,
    description="A UUID identifying the request; echoed on every response and carried to the platforms.",
)
IF_NONE_MATCH = OpenApiParameter(
    "If-None-Match",
    str,
    OpenApiParameter.HEADER,
    required=False,
    description='ETags from an earlier response ("…", W/"…", lists, or *): 304 when the snapshot is unchanged.',
)

_ALL = [200, 304, 400, 401, 403, 404, 406, 500, 503]
RESPONSE_HEADERS = [
    OpenApiParameter(
        "X-Correlation-ID",
        OpenApiTypes.UUID,
        OpenApiParameter.HEADER,
        required=True,
        response=_ALL,
        description="The request's correlation id (generated when it sent none).",
    ),
    OpenApiParameter(
        "ETag",
        str,
        OpenApiParameter.HEADER,
        required=True,
        response=[200, 304],
        description="Strong validator of the tenant's snapshot.",
    ),
    OpenApiParameter(
        "Cache-Control",
        str,
        OpenApiParameter.HEADER,
        required=True,
        response=[200, 304, 503],
        description="`private, max-age=<seconds until the snapshot expires>`; `no-store` on 503.",
    ),
    OpenApiParameter(
        "Vary",
        str,
        OpenApiParameter.HEADER,
        required=True,
        response=[200, 304],
        description="`Authorization`: the answer depends on the bearer token's tenant.",
    ),
    OpenApiParameter(
        "Retry-After",
        OpenApiTypes.INT,
        OpenApiParameter.HEADER,
        required=True,
        response=[503],
        description="Seconds until the revenue may be available again (at least 1).",
    ),
    OpenApiParameter(
        "WWW-Authenticate",
        str,
        OpenApiParameter.HEADER,
        required=True,
        response=[401],
        description='`Bearer realm="skeldir-revenue"`, with `error="invalid_token"` for a refused token.',
    ),
]


def problem(description: str) -> OpenApiResponse:
    return OpenApiResponse(ProblemSerializer, description=description)


ERROR_RESPONSES = {
    (400, "application/problem+json"): problem("X-Correlation-ID missing or not a UUID."),
    (401, "application/problem+json"): problem("Missing, invalid or expired bearer token, or missing claims."),
    (403, "application/problem+json"): problem("The token lacks the `viewer` scope."),
    (404, "application/problem+json"): problem("The token's tenant does not exist."),
    (406, "application/problem+json"): problem("The Accept header excludes application/json."),
    (500, "application/problem+json"): problem("Unexpected error; no details are disclosed."),
    (503, "application/problem+json"): problem(
        "Revenue temporarily unavailable: the tenant cools down after a failed refresh, another "
        "request's refresh did not finish in time, or the database is unreachable. Retry after "
        "`Retry-After` seconds."
    ),
}


class BearerJWTScheme(OpenApiAuthenticationExtension):
    target_class = "skeldir.auth.JWTAuthentication"
    name = "bearerAuth"

    def get_security_definition(self, auto_schema):  # type: ignore[no-untyped-def]
        return {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "JWT",
            "description": (
                "RS256 JWT with claims tenant_id (UUID), jti, iat, exp and scopes (or role/roles). "
                "The realtime revenue operations require the `viewer` scope."
            ),
        }
