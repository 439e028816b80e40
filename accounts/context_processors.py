from accounts.selectors import organizations_for


def organization(request):
    user = getattr(request, "user", None)

    def user_organizations():
        # Called (once) only by a template that shows the organization switcher.
        if user is None or not user.is_authenticated:
            return []
        return organizations_for(user=user)

    return {
        "current_membership": getattr(request, "membership", None),
        "current_organization": getattr(request, "organization", None),
        "user_organizations": user_organizations,
    }
