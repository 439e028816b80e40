from accounts.selectors import organizations_for


def organization(request):
    user = getattr(request, "user", None)

    def user_organizations():
        # Called (once) only by a template that shows the organization switcher.
        if user is None or not user.is_authenticated:
            return []
        return organizations_for(user=user)

    membership = getattr(request, "membership", None)
    scope = getattr(request, "project_scope", None)
    return {
        "current_membership": membership,
        # Project admins see their projects' pages only, and manage those projects' keys.
        "project_scope": scope,
        "can_manage_keys": membership is not None and (membership.can_manage_keys or bool(scope)),
        "current_organization": getattr(request, "organization", None),
        "user_organizations": user_organizations,
    }
