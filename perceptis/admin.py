"""Pieces every app's admin uses: the staff actor, read-only records, service actions, search
of the large tables."""

from collections.abc import Callable

from django.contrib import messages
from django.db.models import Q

from perceptis.errors import DomainError


class NoSecretLookupsMixin:
    """Refuse URL lookups that reach a key's secret hashes, whatever the relation path.

    Django already refuses most lookups through relations that are not list filters; this makes
    the rule explicit and independent of how ``list_filter`` changes later.
    """

    def lookup_allowed(self, lookup, value, request=None):
        parts = lookup.split("__")
        if "secrets" in parts or "secret_hash" in parts:
            return False
        return super().lookup_allowed(lookup, value, request)


class IndexedSearchMixin:
    """Search a large table so that an index answers: a public id exactly, else organizations.

    Django's own search (``search_fields``) joins every field into one ``OR`` and compares
    ``UPPER(field)``, which no index serves: on the jobs or the ledger table every search read
    the whole table. Here a term that is a public id (``id_searches``: whether a term is one,
    and its exact lookup) is looked up by that id alone; any other term is an organization's
    name (contains) or slug (exact), found in the small organizations table first, and the rows
    are then those of the organizations found (``organization_lookup``), through the table's
    organization index.
    """

    id_searches: tuple[tuple[Callable[[str], bool], str], ...] = ()
    organization_lookup = "organization"

    def get_search_results(self, request, queryset, search_term):
        from accounts.models import Organization

        term = search_term.strip()
        if not term:
            return queryset, False
        for is_id, lookup in self.id_searches:
            if is_id(term):
                return queryset.filter(**{lookup: term}), False
        found = Organization.objects.filter(Q(name__icontains=term) | Q(slug=term))
        return queryset.filter(**{f"{self.organization_lookup}__in": found}), False


class ReadOnlyAdminMixin:
    """Nobody adds, edits or deletes these rows in admin.

    For append-only records (ledger, audit log, request log) and for records whose changes are
    admin actions that call services (keys, jobs). Viewing follows the view permission.
    """

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


def apply_service(
    model_admin, request, queryset, service, *, actor, verb: str, target: str
) -> None:
    """Call ``service(<target>=row, actor=actor)`` for each selected row and report the outcome.

    A refusal (``DomainError``) skips that row and is shown with its reason; the others go on.
    """
    done, refused = 0, []
    for obj in queryset:
        try:
            service(**{target: obj}, actor=actor)
            done += 1
        except DomainError as exc:
            refused.append(f"Not changed: {obj.public_id}. {exc.message}")
    if done:
        meta = model_admin.model._meta
        noun = meta.verbose_name if done == 1 else meta.verbose_name_plural
        model_admin.message_user(request, f"{verb} {done} {noun}.")
    for reason in refused:
        model_admin.message_user(request, reason, level=messages.WARNING)
