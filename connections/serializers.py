"""Request bodies of the connections API (validated here) and the shapes of its answers
(documented here, built by `connections.presenters`)."""

from __future__ import annotations

from rest_framework import serializers

from connections.models import ConnectionStatus, LifecycleStatus
from providers.outbound import url_refusal

# --- requests ------------------------------------------------------------------------------

_STRIPE_KEY = r"^(sk|rk)_(test|live)_[A-Za-z0-9_]{8,247}$"


class _KeysBase(serializers.Serializer):
    def to_internal_value(self, data: object) -> dict:
        if isinstance(data, dict):
            unknown = set(data) - set(self.fields)
            if unknown:
                raise serializers.ValidationError({name: "Unknown field." for name in sorted(unknown)})
        return super().to_internal_value(data)


class StripeKeysSerializer(_KeysBase):
    platform = serializers.ChoiceField(choices=["stripe"])
    account_id = serializers.RegexField(
        r"^acct_[A-Za-z0-9]{1,64}$", help_text="The Stripe account the key belongs to (acct_…)"
    )
    api_key = serializers.RegexField(
        _STRIPE_KEY, write_only=True, help_text="A restricted key with Charges: read (rk_…), or a secret key (sk_…)"
    )


class PayPalKeysSerializer(_KeysBase):
    platform = serializers.ChoiceField(choices=["paypal"])
    client_id = serializers.RegexField(r"^[A-Za-z0-9_\-]{1,200}$", help_text="The REST app's client id")
    client_secret = serializers.RegexField(r"^[A-Za-z0-9_\-]{1,200}$", write_only=True)
    account_id = serializers.RegexField(
        r"^[A-Za-z0-9_\-]{1,64}$", required=False, help_text="The merchant id (default: the client id)"
    )


class WooCommerceKeysSerializer(_KeysBase):
    platform = serializers.ChoiceField(choices=["woocommerce"])
    store_url = serializers.URLField(
        max_length=500,
        help_text="The store's address: https, port 443, a public host (e.g. https://shop.example.com)",
    )
    consumer_key = serializers.RegexField(r"^ck_[A-Za-z0-9]{1,128}$", write_only=True)
    consumer_secret = serializers.RegexField(r"^cs_[A-Za-z0-9]{1,128}$", write_only=True)

    def validate_store_url(self, value: str) -> str:
        # The server will connect to this URL: refuse what providers.outbound never calls
        # before any connection (the host's DNS is checked when connecting).
        refusal = url_refusal(value)
        if refusal:
            raise serializers.ValidationError(f"{refusal}.")
        return value


KEY_SERIALIZERS: dict[str, type[serializers.Serializer]] = {
    "stripe": StripeKeysSerializer,
    "paypal": PayPalKeysSerializer,
    "woocommerce": WooCommerceKeysSerializer,
}


class OAuthStartRequestSerializer(serializers.Serializer):
    shop = serializers.CharField(
        required=False, max_length=255, help_text="Shopify only: the shop's myshopify.com domain (or its handle)"
    )


class OAuthConfirmRequestSerializer(serializers.Serializer):
    confirmation = serializers.CharField(
        max_length=200,
        trim_whitespace=False,
        help_text="The one-time code the callback gave the browser that consented (`c1.…`)",
    )


# --- answers (documentation) ---------------------------------------------------------------


class CredentialStateSerializer(serializers.Serializer):
    lifecycle_status = serializers.ChoiceField(choices=LifecycleStatus.values)
    expires_at = serializers.DateTimeField(allow_null=True, help_text="Null: the token does not expire")
    scope = serializers.CharField(allow_null=True)
    last_refresh_at = serializers.DateTimeField(allow_null=True)
    last_failure_class = serializers.CharField(
        allow_null=True, help_text="e.g. network, auth_revoked, auth_refused, auth_forbidden, disconnected"
    )
    last_failure_at = serializers.DateTimeField(allow_null=True)
    revoked_at = serializers.DateTimeField(allow_null=True)


class ConnectionSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    platform = serializers.CharField()
    account_id = serializers.CharField(help_text="acct_…, shop domain, customer id, act_…, merchant id, store URL")
    status = serializers.ChoiceField(choices=ConnectionStatus.values)
    connected_via = serializers.ChoiceField(choices=["oauth", "keys", "operator"])
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()
    credential = CredentialStateSerializer(allow_null=True, help_text="Never a token: only its lifecycle")
    reconnect_required = serializers.BooleanField(
        help_text=(
            "The merchant must act before this account's revenue is read again: no credential, or one the "
            "platform refused (revoked; or degraded by a refused permission, `auth_forbidden`). Reconnect the "
            "account (OAuth) or send new keys; the revenue snapshot reports the source as `reconnect_required`"
        )
    )


class ConnectionListSerializer(serializers.Serializer):
    connections = ConnectionSerializer(many=True)


class DisconnectionSerializer(serializers.Serializer):
    connection = ConnectionSerializer()
    revocation = serializers.ChoiceField(
        choices=["revoked", "not_offered", "kept_for_other_accounts", "failed", "already_disconnected"],
        help_text=(
            "What the platform was told: revoked; not_offered (keys have no revocation API); "
            "kept_for_other_accounts (the same authorization still serves other connections); failed "
            "(disconnected here, the platform could not be reached: DELETE again to retry); "
            "already_disconnected (nothing done)"
        ),
    )


class OAuthStartSerializer(serializers.Serializer):
    platform = serializers.CharField()
    authorize_url = serializers.URLField(help_text="Send the merchant's browser here")
    expires_at = serializers.DateTimeField(help_text="The authorization must be completed before this")


class OAuthPendingSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=["confirmation_required"])
    platform = serializers.CharField()
    confirmation = serializers.CharField(
        help_text="One-time code: POST it to …/oauth/{platform}/confirm with the starting user's token"
    )
    expires_at = serializers.DateTimeField(help_text="Confirm before this, or the authorization is withdrawn")


class OAuthCompletedSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=["connected"])
    platform = serializers.CharField()
    connections = ConnectionSerializer(many=True)
