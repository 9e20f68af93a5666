"""The floors the serving benchmark measures against, in the same server and run: a
minimal Django view returning a constant JSON body, and the same plus one database round
trip (through the runtime role)."""

from django.db import connection
from django.http import HttpRequest, JsonResponse

BODY = {"tenant_id": "00000000-0000-0000-0000-000000000000", "revenue_total": 0, "verified": False}


def constant_json(request: HttpRequest) -> JsonResponse:
    return JsonResponse(BODY)


def select_one(request: HttpRequest) -> JsonResponse:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return JsonResponse(BODY)
