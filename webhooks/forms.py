"""The webhook-endpoint forms of Developer Settings; the services check the values again."""

from django import forms

from perceptis.forms import ServiceErrorsMixin
from webhooks.models import Event, WebhookEndpoint


class EndpointForm(ServiceErrorsMixin, forms.Form):
    url = forms.CharField(
        label="Endpoint URL",
        max_length=500,
        help_text="The https URL that receives the events.",
        widget=forms.URLInput(attrs={"autocomplete": "off"}),
    )
    description = forms.CharField(label="Description", max_length=200, required=False)
    events = forms.MultipleChoiceField(
        label="Events", choices=Event.choices, widget=forms.CheckboxSelectMultiple
    )
    enabled = forms.BooleanField(label="Enabled", required=False, initial=True)


class EndpointCreateForm(EndpointForm):
    environment = forms.ChoiceField(
        label="Environment",
        choices=WebhookEndpoint.Environment.choices,
        widget=forms.RadioSelect,
        initial=WebhookEndpoint.Environment.LIVE,
        help_text="Live keys' jobs notify live endpoints; test keys' jobs notify test endpoints.",
    )

    field_order = ["url", "description", "environment", "events", "enabled"]
