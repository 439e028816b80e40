"""Sign-in, password change and the organization switcher."""

from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect
from django.views.decorators.http import require_POST

from accounts.forms import EmailAuthenticationForm, OrganizationSwitchForm
from accounts.middleware import SESSION_KEY
from accounts.selectors import organizations_for


class LoginView(auth_views.LoginView):
    form_class = EmailAuthenticationForm
    redirect_authenticated_user = True


@login_required
@require_POST
def organization_switch(request):
    """Make another of the person's organizations the current one.

    An organization the person does not belong to is a 404, so ids of other organizations
    reveal nothing. Always lands on the key table: a page of the old organization (a key's
    page, say) would be a 404 in the new one.
    """
    form = OrganizationSwitchForm(request.POST)
    if not form.is_valid():
        raise Http404("No such organization.")
    wanted = form.cleaned_data["organization"]
    if wanted not in {org.pk for org in organizations_for(user=request.user)}:
        raise Http404("No such organization.")
    request.session[SESSION_KEY] = wanted
    return redirect("developer-settings")
