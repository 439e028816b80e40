"""Pieces every app's admin uses: the staff actor, read-only records, service actions."""

from django.contrib import messages

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
