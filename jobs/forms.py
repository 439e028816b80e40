"""Forms of the spend page in Developer Settings: they parse; the services validate."""

from django import forms

from apikeys.keys.forms import ServiceErrorsMixin
from apikeys.keys.models import ApiKey


class KeySpendLimitForm(ServiceErrorsMixin, forms.Form):
    spend_limit_credits = forms.IntegerField(
        label="Spend limit (credits)", required=False, help_text="Empty: no limit."
    )
    spend_limit_period = forms.ChoiceField(
        label="Period", choices=ApiKey.SpendPeriod.choices, initial=ApiKey.SpendPeriod.MONTH
    )


class OrgSpendLimitForm(ServiceErrorsMixin, forms.Form):
    monthly_spend_limit = forms.IntegerField(
        label="Monthly spend limit (credits)",
        required=False,
        help_text="Credits all keys together may spend per calendar month (UTC). Empty: none.",
    )
