from django.urls import path

from connections.views import (
    ConnectionDetailView,
    ConnectionsView,
    OAuthCallbackView,
    OAuthConfirmView,
    OAuthStartView,
)

urlpatterns = [
    path("api/v1/connections", ConnectionsView.as_view(), name="connections"),
    path("api/v1/connections/<uuid:connection_id>", ConnectionDetailView.as_view(), name="connection-detail"),
    path("api/v1/connections/oauth/<str:platform>/start", OAuthStartView.as_view(), name="connections-oauth-start"),
    path(
        "api/v1/connections/oauth/<str:platform>/confirm",
        OAuthConfirmView.as_view(),
        name="connections-oauth-confirm",
    ),
    path(
        "api/v1/connections/oauth/<str:platform>/callback",
        OAuthCallbackView.as_view(),
        name="connections-oauth-callback",
    ),
]
