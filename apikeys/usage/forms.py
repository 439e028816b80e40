"""The request-log filter of Developer Settings."""

from django import forms
from django.core.validators import RegexValidator

STATUS_CLASSES = [("2xx", "2xx success"), ("4xx", "4xx refused"), ("5xx", "5xx failed")]


class RequestLogFilterForm(forms.Form):
    key = forms.ChoiceField(label="Key", required=False)
    status = forms.CharField(
        label="Status",
        required=False,
        max_length=3,
        validators=[RegexValidator(r"^([1-5]xx|[1-5][0-9]{2})$", "Use e.g. 401 or 4xx.")],
        widget=forms.TextInput(attrs={"placeholder": "e.g. 401 or 4xx", "size": 8}),
    )
    since = forms.DateTimeField(
        label="From (UTC)",
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )
    until = forms.DateTimeField(
        label="To (UTC)",
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )

    def __init__(self, *args, keys=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["key"].choices = [("", "All keys")] + [
            (key.key_id, f"{key.name} ({key.key_id})") for key in keys
        ]


class UsageRangeForm(forms.Form):
    """A custom date range of the usage pages: whole UTC days, ``start`` to ``end`` included."""

    MAX_DAYS = 400

    start = forms.DateField(label="From (UTC)", widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(label="To (UTC)", widget=forms.DateInput(attrs={"type": "date"}))

    def clean(self):
        data = super().clean()
        start, end = data.get("start"), data.get("end")
        if start and end:
            if start > end:
                raise forms.ValidationError("The start date is after the end date.")
            if (end - start).days >= self.MAX_DAYS:
                raise forms.ValidationError(f"Choose at most {self.MAX_DAYS} days.")
        return data
