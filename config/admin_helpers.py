"""Admin building blocks shared by the apps."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest


class ReadOnlyAdmin(admin.ModelAdmin):
    """For rows the system writes (audit log, probe history, portal tables): look, don't touch."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


def timestamp_set_filter(
    field: str, *, title: str, unset_label: str, set_label: str
) -> type[admin.SimpleListFilter]:
    """A list filter on whether a timestamp field is set ("yes") or not ("no")."""

    class TimestampSetFilter(admin.SimpleListFilter):
        parameter_name = title

        def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple]:
            return [("no", unset_label), ("yes", set_label)]

        def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
            if self.value() in ("no", "yes"):
                return queryset.filter(**{f"{field}__isnull": self.value() == "no"})
            return queryset

    TimestampSetFilter.title = title
    return TimestampSetFilter
