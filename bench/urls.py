from django.urls import path

from bench.floors import constant_json, select_one
from skeldir.urls import handler400, handler404, handler500  # noqa: F401
from skeldir.urls import urlpatterns as service_urls

urlpatterns = [
    path("bench/constant", constant_json),
    path("bench/select1", select_one),
    *service_urls,
]
