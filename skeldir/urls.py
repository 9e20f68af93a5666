from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView

from revenue.views import LegacyRealtimeRevenueView, RealtimeRevenueView
from skeldir import health, metrics

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", metrics.metrics_view, name="metrics"),
    path("api/v1/revenue/realtime", RealtimeRevenueView.as_view(), name="realtime-revenue-v1"),
    path("api/attribution/revenue/realtime", LegacyRealtimeRevenueView.as_view(), name="realtime-revenue-legacy"),
    path("", include("connections.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="openapi-schema"),
    path("api/docs/", SpectacularRedocView.as_view(url_name="openapi-schema"), name="openapi-docs"),
    path(settings.ADMIN_URL, admin.site.urls),
]

handler400 = "skeldir.problems.handler400"
handler404 = "skeldir.problems.handler404"
handler500 = "skeldir.problems.handler500"
