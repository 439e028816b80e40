"""Forms of the sign-in and organization pages."""

from allauth.account.forms import LoginForm as AllauthLoginForm
from django import forms


class LoginForm(AllauthLoginForm):
    """allauth's sign-in form, labelled as the site's pages always were."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["login"].label = "Email address"
        self.fields["login"].widget.attrs.pop("placeholder", None)
        self.fields["password"].widget.attrs.pop("placeholder", None)


class OrganizationSwitchForm(forms.Form):
    organization = forms.IntegerField(min_value=1)
