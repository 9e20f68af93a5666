from django.urls import path

from bench.floors import constant_json, select_one
from skeldir.urls import handler400, handler404, handler500, urlpatterns as service_urls  # noqa: F401

urlpatterns = [
    path("bench/constant", constant_json),
    path("bench/select1", select_one),
    *service_urls,
]
