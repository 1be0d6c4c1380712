"""The "Realtime" section of the admin: live cluster status and the health event log."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse

from .hub import get_hub
from .models import ClusterStatus, HealthEvent
from .status import cluster_status


def _is_staff(user: Any) -> bool:
    return bool(user.is_active and user.is_staff)


async def status_data(request: HttpRequest) -> HttpResponse:
    """The status page's data (JSON); staff only, others get 403."""
    if not _is_staff(await request.auser()):
        return JsonResponse({"error": "Staff members only."}, status=403)
    response = JsonResponse(cluster_status(get_hub()))
    response["Cache-Control"] = "no-store"
    return response


class StaffReadOnly:
    """Every active staff user may look; nobody adds or changes through the admin."""

    def has_module_permission(self, request: HttpRequest) -> bool:
        return _is_staff(request.user)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return _is_staff(request.user)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(ClusterStatus)
class ClusterStatusAdmin(StaffReadOnly, admin.ModelAdmin):
    """The live status page, listed in the admin index as "Cluster status"."""

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_urls(self) -> list[URLPattern]:
        info = (self.model._meta.app_label, self.model._meta.model_name)
        return [path("data/", status_data, name="{}_{}_data".format(*info)), *super().get_urls()]

    def changelist_view(self, request: HttpRequest, extra_context: Any = None) -> HttpResponse:
        """Render the live page; it polls the JSON endpoint every second."""
        context = {
            **self.admin_site.each_context(request),
            "title": "Cluster status",
            "opts": self.model._meta,
            "data_url": reverse("admin:realtime_clusterstatus_data"),
            "events_url": reverse("admin:realtime_healthevent_changelist"),
        }
        return TemplateResponse(request, "admin/realtime/cluster_status.html", context)


@admin.register(HealthEvent)
class HealthEventAdmin(StaffReadOnly, admin.ModelAdmin):
    """Read-only log of Redis health changes and node joins/leaves."""

    list_display = ("created", "node", "kind", "subject", "healthy", "detail")
    list_filter = ("kind", "node", "healthy", "created")
    search_fields = ("subject", "detail", "node")
    date_hierarchy = "created"
    list_per_page = 100
