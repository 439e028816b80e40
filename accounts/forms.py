"""Forms of the sign-in and organization pages."""

from django import forms
from django.contrib.auth.forms import AuthenticationForm


class EmailAuthenticationForm(AuthenticationForm):
    """Sign in with an email address (the user model's ``USERNAME_FIELD``) and a password."""

    username = forms.EmailField(
        label="Email address",
        widget=forms.EmailInput(attrs={"autofocus": True, "autocomplete": "email"}),
    )

    def clean_username(self):
        # Addresses are stored in lower case (UserManager); people type them any way.
        return self.cleaned_data["username"].strip().lower()


class OrganizationSwitchForm(forms.Form):
    organization = forms.IntegerField(min_value=1)
