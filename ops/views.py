from __future__ import annotations

from django.conf import settings
from django.contrib import admin
from django.http import Http404, HttpRequest, JsonResponse
from django.template.response import TemplateResponse

from ops.demo import FAILING_VENDORS
from ops.status import status_context


def demo_vendor_health(request: HttpRequest, slug: str) -> JsonResponse:
    """A pretend vendor's health endpoint, only in demo mode (one of them is always down)."""
    if not settings.DEMO_MODE:
        raise Http404
    if slug in FAILING_VENDORS:
        return JsonResponse({"status": "down", "vendor": slug}, status=503)
    return JsonResponse({"status": "ok", "vendor": slug})


def system_status(request: HttpRequest) -> TemplateResponse:
    """The admin's status page: jobs, SLA states, vendors, escalations, events, notifications."""
    context = {**admin.site.each_context(request), "title": "System status", **status_context()}
    return TemplateResponse(request, "admin/ops/status.html", context)
