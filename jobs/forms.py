"""Forms of the spend and jobs pages in Developer Settings: they parse; services validate."""

from django import forms

from apikeys.keys.forms import ServiceErrorsMixin
from apikeys.keys.models import ApiKey
from jobs.models import Job


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


def _moment(label: str) -> forms.DateTimeField:
    return forms.DateTimeField(
        label=label,
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )


class JobFilterForm(forms.Form):
    key = forms.ChoiceField(label="Key", required=False)
    status = forms.ChoiceField(
        label="Status", required=False, choices=[("", "Any status"), *Job.Status.choices]
    )
    created_after = _moment("Created from (UTC)")
    created_before = _moment("Created to (UTC)")

    def __init__(self, *args, keys=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.keys = {key.key_id: key for key in keys}
        self.fields["key"].choices = [("", "All keys")] + [
            (key.key_id, f"{key.name} ({key.key_id})") for key in keys
        ]

    def filters(self) -> dict:
        """Return the selector's filters from a valid form (none from an invalid one)."""
        if not self.is_valid():
            return {}
        data = self.cleaned_data
        return {
            "key": self.keys.get(data["key"]),
            "status": data["status"] or None,
            "created_after": data["created_after"],
            "created_before": data["created_before"],
        }
