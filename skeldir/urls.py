from django.conf import settings
from django.contrib import admin
from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView

from revenue.views import LegacyRealtimeRevenueView, RealtimeRevenueView
from skeldir import health

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("api/v1/revenue/realtime", RealtimeRevenueView.as_view(), name="realtime-revenue-v1"),
    path("api/attribution/revenue/realtime", LegacyRealtimeRevenueView.as_view(), name="realtime-revenue-legacy"),
    path("api/schema/", SpectacularAPIView.as_view(), name="openapi-schema"),
    path("api/docs/", SpectacularRedocView.as_view(url_name="openapi-schema"), name="openapi-docs"),
    path(settings.ADMIN_URL, admin.site.urls),
]

handler400 = "skeldir.problems.handler400"
handler404 = "skeldir.problems.handler404"
handler500 = "skeldir.problems.handler500"
