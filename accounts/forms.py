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


class KeyPolicyForm(forms.Form):
    """The organization's key policy, as an owner sets it on the account page."""

    key_max_lifetime_days = forms.IntegerField(
        label="Maximum key lifetime (days)",
        required=False,
        min_value=1,
        max_value=366,
        help_text="1 to 366. Empty: no maximum. A maximum means every new key expires.",
    )
    key_expiry_required = forms.BooleanField(
        label="Every new key must have an expiry", required=False
    )

    @classmethod
    def for_organization(cls, organization) -> "KeyPolicyForm":
        return cls(
            initial={
                "key_max_lifetime_days": organization.key_max_lifetime_days,
                "key_expiry_required": organization.key_expiry_required,
            }
        )

    def service_kwargs(self) -> dict:
        return {
            "max_lifetime_days": self.cleaned_data["key_max_lifetime_days"],
            "expiry_required": self.cleaned_data["key_expiry_required"],
        }
