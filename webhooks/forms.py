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
    project = forms.ChoiceField(
        label="Project",
        required=False,
        help_text="Receive the events of one project's jobs and keys, or of every project's.",
    )

    field_order = ["url", "description", "environment", "project", "events", "enabled"]

    def __init__(self, *args, projects=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["project"].choices = [("", "Every project")] + [
            (p.project_id, p.name) for p in projects
        ]

    def clean_project(self):
        return self.cleaned_data["project"] or None
