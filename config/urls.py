from __future__ import annotations

from django.contrib import admin
from django.urls import path
from django.views.generic import RedirectView

from ops.views import demo_vendor_health, system_status

admin.site.site_header = "Operations back office"
admin.site.site_title = "Back office"
admin.site.index_title = "Operations"

urlpatterns = [
    path("", RedirectView.as_view(url="/admin/", permanent=False)),
    path("admin/status/", admin.site.admin_view(system_status), name="ops-status"),
    path("admin/", admin.site.urls),
    path("demo/vendors/<slug:slug>/health", demo_vendor_health, name="demo-vendor-health"),
]
