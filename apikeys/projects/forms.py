"""Forms of the project pages; the services validate, the forms only parse."""

from django import forms

from perceptis.forms import ServiceErrorsMixin


class ProjectForm(ServiceErrorsMixin, forms.Form):
    name = forms.CharField(label="Name", max_length=100)
    monthly_spend_limit = forms.IntegerField(
        label="Monthly spend limit (credits)",
        required=False,
        help_text="Credits the project's keys together may spend per calendar month (UTC). "
        "Empty: none of its own.",
    )
    rate_limit_ceiling = forms.IntegerField(
        label="Rate-limit ceiling (requests per minute)",
        required=False,
        help_text="No key of the project may have more. Empty: the plan's limit.",
    )


class ProjectAdminForm(ServiceErrorsMixin, forms.Form):
    membership = forms.ChoiceField(label="Member")

    def __init__(self, *args, members=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["membership"].choices = [(m.pk, m.user.email) for m in members]
