"""The alert-rule form of Developer Settings; the service checks the values again."""

from django import forms

from alerts.models import AlertRule
from apikeys.keys.forms import OnceFormMixin
from apikeys.keys.selectors import apikey_list
from perceptis.forms import ServiceErrorsMixin


class AlertRuleForm(ServiceErrorsMixin, OnceFormMixin):
    """A rule's fields, sent once (``nonce``): a resubmitted form does not act again."""

    name = forms.CharField(label="Name", max_length=100)
    metric = forms.ChoiceField(label="Alert when", choices=AlertRule.Metric.choices)
    threshold = forms.FloatField(
        label="Threshold",
        help_text="Requests, percent, milliseconds, credits or days, as the metric says.",
    )
    window_minutes = forms.IntegerField(
        label="Window (minutes)",
        initial=60,
        help_text="A multiple of 60. Each rule fires at most once per window; "
        "key expiry warnings once a day.",
    )
    api_key = forms.ChoiceField(label="API key", required=False)
    channel = forms.ChoiceField(label="Deliver by", choices=AlertRule.Channel.choices)
    destination = forms.CharField(
        label="Destination",
        max_length=500,
        help_text="An email address, or the https URL of your webhook or Slack incoming webhook.",
    )
    enabled = forms.BooleanField(label="Enabled", required=False, initial=True)

    def __init__(self, *args, organization, **kwargs):
        super().__init__(*args, **kwargs)
        keys = apikey_list(organization=organization).order_by("name")
        self.fields["api_key"].choices = [("", "All keys")] + [
            (k.key_id, f"{k.name} ({k.key_id})") for k in keys
        ]

    def service_kwargs(self) -> dict:
        """Return the rule's fields for the services (without the form's token)."""
        return {k: v for k, v in self.cleaned_data.items() if k != "nonce"}
