"""OpenAPI documentation of the realtime endpoints (the code's contract, DESIGN.md §8)."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import serializers

from skeldir.openapi import CORRELATION_ID, ERROR_RESPONSES, IF_NONE_MATCH, RESPONSE_HEADERS


class WindowSerializer(serializers.Serializer):
    start = serializers.DateTimeField(help_text="Midnight in the tenant's time zone")
    end = serializers.DateTimeField()


class ClaimedSerializer(serializers.Serializer):
    total = serializers.DecimalField(max_digits=30, decimal_places=3, coerce_to_string=False, min_value=0)
    total_minor = serializers.IntegerField(min_value=0)
    by_currency = serializers.DictField(
        child=serializers.DecimalField(max_digits=30, decimal_places=3, coerce_to_string=False)
    )


class BasisSerializer(serializers.Serializer):
    measure = serializers.CharField(help_text='What is counted (the README\'s table "What each figure means")')
    time_zone = serializers.CharField(
        help_text="IANA zone of the day the figure covers: the tenant's for sales, the ad account's for ad platforms"
    )
    date = serializers.DateField(help_text="The day the figure covers, in `time_zone`")
    attribution = serializers.CharField(
        allow_null=True, help_text="Ad platforms: the attribution setting the value is reported under"
    )
    complete_until = serializers.DateTimeField(
        allow_null=True, help_text="The platform's reporting lags: records after this moment may still appear"
    )


class SourceSerializer(serializers.Serializer):
    platform = serializers.CharField()
    account = serializers.CharField()
    kind = serializers.ChoiceField(choices=["sales", "claimed"])
    status = serializers.CharField(
        help_text=(
            "ok; an error kind of the last attempt (auth, rate_limited, upstream, network, bad_response, "
            "internal_error); `reconnect_required` when the platform refused the credential or it was "
            "revoked (the merchant reconnects the account or gives new keys); `credential_unavailable`; "
            "`unsupported`"
        )
    )
    stale = serializers.BooleanField(help_text="True unless `status` is ok: the figures are the last good ones")
    amounts = serializers.DictField(
        child=serializers.DecimalField(max_digits=30, decimal_places=3, coerce_to_string=False)
    )
    count = serializers.IntegerField(min_value=0)
    as_of = serializers.DateTimeField(allow_null=True, help_text="When these figures were read; null: never")
    basis = BasisSerializer(allow_null=True, help_text="What the figure means; null for figures without one")
    error = serializers.CharField(allow_null=True)


class RealtimeRevenueV1Serializer(serializers.Serializer):
    tenant_id = serializers.UUIDField()
    interval = serializers.CharField(help_text="The window: `day` (since midnight in the tenant's time zone)")
    currency = serializers.RegexField(r"^[A-Z]{3}$", help_text="The tenant's reporting currency (ISO 4217)")
    revenue_total = serializers.DecimalField(
        max_digits=30,
        decimal_places=3,
        coerce_to_string=False,
        min_value=0,
        help_text="Sales in `currency`, major units. Claimed (ad) revenue and other currencies are not in it.",
    )
    verified = serializers.BooleanField(help_text="Always false until payment reconciliation exists")
    data_as_of = serializers.DateTimeField(help_text="When the platforms were read (RFC 3339, UTC)")
    sources = serializers.ListField(child=serializers.CharField(), help_text="Platform keys")
    revenue_total_minor = serializers.IntegerField(min_value=0)
    event_count = serializers.IntegerField(min_value=0)
    window = WindowSerializer()
    claimed_revenue = ClaimedSerializer()
    sales_by_currency = serializers.DictField(
        child=serializers.DecimalField(max_digits=30, decimal_places=3, coerce_to_string=False)
    )
    breakdown = SourceSerializer(many=True)
    stale_sources = serializers.ListField(child=serializers.CharField())
    stale = serializers.BooleanField(
        help_text=(
            "True when every source failed and the last good snapshot is served past its expiry (within "
            "REVENUE_STALE_IF_ERROR_SECONDS): `data_as_of` is that snapshot's, each source's `status` the last "
            "attempt's, its `as_of` its figures'. Such an answer has `Cache-Control: private, max-age=0` and "
            "an ETag of its own"
        )
    )


class RealtimeRevenueLegacySerializer(serializers.Serializer):
    total_revenue = serializers.DecimalField(
        max_digits=30,
        decimal_places=3,
        coerce_to_string=False,
        min_value=0,
        help_text=(
            "Today's sales in `currency` (the tenant's reporting currency, not necessarily USD), major units, "
            "as the platforms report them (unverified). Claimed (ad) revenue and sales in other currencies "
            "are not in it"
        ),
    )
    event_count = serializers.IntegerField(min_value=0)
    last_updated = serializers.DateTimeField()
    data_freshness_seconds = serializers.IntegerField(min_value=0)
    verified = serializers.BooleanField()
    tenant_id = serializers.UUIDField()
    confidence_score = serializers.FloatField(min_value=0, max_value=1, allow_null=True)
    upgrade_notice = serializers.CharField(allow_null=True)
    currency = serializers.RegexField(
        r"^[A-Z]{3}$", help_text="Additive: the currency of `total_revenue` (ISO 4217), the tenant's reporting currency"
    )
    stale = serializers.BooleanField(
        help_text="Additive: as in the v1 body (the last good snapshot, served past expiry)"
    )


def _responses(ok: type[serializers.Serializer]) -> dict:
    return {
        200: ok,
        304: OpenApiResponse(description="Not modified: the If-None-Match validator matches the snapshot."),
        **ERROR_RESPONSES,
    }


realtime_v1 = extend_schema_view(
    get=extend_schema(
        operation_id="getRealtimeRevenueV1",
        summary="Realtime revenue of the token's tenant",
        description=(
            "Today's revenue as the connected platforms report it, from a snapshot cached for "
            "`REVENUE_CACHE_TTL_SECONDS` and refreshed on demand (one refresh per tenant at a time). "
            "A source whose credential the platform refused is `reconnect_required` with its last good "
            "figures; the answer is still 200. When every source fails, the last good snapshot is served "
            "with `stale: true` for `REVENUE_STALE_IF_ERROR_SECONDS` past its expiry; after that, or with "
            "no snapshot yet, 503 with Retry-After."
        ),
        tags=["Revenue"],
        parameters=[CORRELATION_ID, IF_NONE_MATCH, *RESPONSE_HEADERS],
        responses=_responses(RealtimeRevenueV1Serializer),
    )
)

realtime_legacy = extend_schema_view(
    get=extend_schema(
        operation_id="getRealtimeRevenue",
        summary="Realtime revenue (legacy shape)",
        description="Deprecated: use GET /api/v1/revenue/realtime.",
        deprecated=True,
        tags=["Attribution"],
        parameters=[CORRELATION_ID, IF_NONE_MATCH, *RESPONSE_HEADERS],
        responses=_responses(RealtimeRevenueLegacySerializer),
    )
)
