"""URLs of the benchmark site: the sandbox's, and the floor of the webhook benchmark."""

from django.db import connection
from django.http import JsonResponse
from django.urls import path
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from sandbox.urls import urlpatterns as sandbox_urlpatterns
from wagtail_coaching.payments.webhooks import SIGNATURE_HEADER, InvalidWebhook, verify_event


@csrf_exempt
@require_POST
def floor_webhook(request):
    """The least a webhook can do: verify Stripe's signature as the package does and insert
    one row (the event), in one statement (on PostgreSQL and SQLite alike)."""
    try:
        event = verify_event(request.body, request.META.get(SIGNATURE_HEADER))
    except InvalidWebhook as exc:
        return JsonResponse({"error": str(exc)}, status=400)
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO wagtail_coaching_stripeevent (event_id, type, object_id, related_id, "
            "livemode, payload, received_at, outcome, attempts, error) "
            "VALUES (%s, %s, '', '', %s, '{}', %s, 'floor', 1, '')",
            [event["id"], event["type"], False, timezone.now()],
        )
    return JsonResponse({"received": True, "outcome": "floor"})


urlpatterns = [path("bench/floor-webhook/", floor_webhook), *sandbox_urlpatterns]
