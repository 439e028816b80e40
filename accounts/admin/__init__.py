"""Django admin for support staff: organizations, plans, people, memberships, invitations
projects and the audit log.

Support staff belong to the ``Support`` group (``accounts/migrations/0004_support_group.py``),
which holds exactly the permissions the support tasks need; superusers have every permission.
Changes go through the services with the staff user as the audited actor: a plan change is
``organization_set_plan``, credits go through the form at ``<organization>/credits/``. Nothing is
deleted here: organizations, plans and audit events are protected, for superusers too.
"""

from django.contrib import admin

from accounts.admin import members, organizations, people, projects
from accounts.admin.organizations import IndexedSearchMixin, OrganizationAdmin

admin.site.site_header = "Perceptis support"
admin.site.site_title = "Perceptis support"
admin.site.index_title = "Support"

__all__ = [
    "IndexedSearchMixin",
    "OrganizationAdmin",
    "members",
    "organizations",
    "people",
    "projects",
]
