from __future__ import annotations

from django.conf import settings
from django.http import Http404, HttpRequest, JsonResponse

from ops.demo import FAILING_VENDORS


def demo_vendor_health(request: HttpRequest, slug: str) -> JsonResponse:
    """A pretend vendor's health endpoint, only in demo mode (one of them is always down)."""
    if not settings.DEMO_MODE:
        raise Http404
    if slug in FAILING_VENDORS:
        return JsonResponse({"status": "down", "vendor": slug}, status=503)
    return JsonResponse({"status": "ok", "vendor": slug})
