"""Forms of the Developer Settings pages.

Forms only parse what the browser sends into the services' argument types; the services
validate (names, permissions, limits, expiry, CIDRs) and their ``InvalidRequest.fields`` become
messages next to the fields with ``add_service_errors``, so the pages and the API refuse the
same things with the same words.
"""

from datetime import timedelta

from django import forms
from django.conf import settings
from django.core.validators import RegexValidator
from django.utils import timezone

from apikeys.keys.models import DEFAULT_PERMISSIONS, ApiKey, Permission
from apikeys.keys.policy import KeyPolicy
from billing.models import ModelPrice
from perceptis.forms import ServiceErrorsMixin

# A signed form token (``apikeys.keys.services.form_tokens``): URL-safe base64 and colons.
NONCE_PATTERN = r"^[A-Za-z0-9_:-]{20,400}$"
NONCE_EXPIRED = "This form has expired; open it again."


class OnceFormMixin(forms.Form):
    """A hidden one-time token: a resubmitted form (reload, back) does not act twice."""

    nonce = forms.CharField(
        widget=forms.HiddenInput,
        validators=[RegexValidator(NONCE_PATTERN, message=NONCE_EXPIRED)],
        error_messages={"required": NONCE_EXPIRED, "invalid": NONCE_EXPIRED},
    )


def _split_lines(value: str) -> list[str]:
    return [part.strip() for part in value.replace(",", "\n").splitlines() if part.strip()]


class KeySettingsForm(ServiceErrorsMixin, forms.Form):
    """A key's name and settings, as creating and editing a key set them."""

    # Not required here: the service's own message ("Give the key a name.") is the one shown.
    name = forms.CharField(
        label="Name",
        required=False,
        help_text="For you: what uses this key, e.g. “Billing service (prod)”.",
    )
    permissions = forms.MultipleChoiceField(
        label="Permissions",
        choices=[(value, f"{label} ({value})") for value, label in Permission.choices],
        initial=DEFAULT_PERMISSIONS,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    rate_limit_per_minute = forms.IntegerField(
        label="Rate limit (requests per minute)",
        required=False,
        help_text="Leave empty for the plan's limit.",
    )
    expires_at = forms.DateTimeField(
        label="Expires (UTC)",
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        help_text="Leave empty for a key that does not expire.",
    )
    # Presets within the organization's key policy; a date in ``expires_at`` takes precedence.
    expires_in_days = forms.TypedChoiceField(
        label="Expires in", coerce=int, empty_value=None, required=False
    )
    ip_allowlist = forms.CharField(
        label="IP allowlist",
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Addresses or CIDR ranges, one per line. Empty allows every address.",
    )

    allowed_models = forms.MultipleChoiceField(
        label="Models",
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Leave all unticked for every model the plan allows.",
    )
    spend_limit_credits = forms.IntegerField(
        label="Spend limit (credits)",
        required=False,
        help_text="Leave empty for no limit of the key's own.",
    )
    spend_limit_period = forms.ChoiceField(
        label="Spend limit period",
        choices=ApiKey.SpendPeriod.choices,
        initial=ApiKey.SpendPeriod.MONTH,
        required=False,
    )

    def __init__(self, *args, plan=None, policy: KeyPolicy | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        # The price table's models; the service checks the names again when saving.
        self.fields["allowed_models"].choices = [
            (name, name) for name in ModelPrice.objects.values_list("model", flat=True)
        ]
        if plan is not None:
            self.fields[
                "rate_limit_per_minute"
            ].help_text = f"Leave empty for the plan's limit of {plan.rate_limit_per_minute}."
        policy = policy or KeyPolicy()
        presets = [(days, f"{days} days") for days in policy.presets()]
        preset = self.fields["expires_in_days"]
        if policy.must_expire:
            preset.choices = [("", "A custom date"), *presets]
            preset.initial = presets[-1][0] if policy.max_lifetime_days else 90
            if policy.max_lifetime_days:
                preset.help_text = (
                    f"The organization's key policy: keys expire within "
                    f"{policy.max_lifetime_days} days."
                )
            else:
                preset.help_text = "The organization's key policy: every key expires."
            self.fields["expires_at"].help_text = "Or pick a date (UTC) within the policy."
        else:
            preset.choices = [("", "Never, or a custom date"), *presets]

    def _expiry(self):
        data = self.cleaned_data
        if data.get("expires_at") is not None or not data.get("expires_in_days"):
            return data.get("expires_at")
        return timezone.now() + timedelta(days=data["expires_in_days"])

    def service_kwargs(self) -> dict:
        data = self.cleaned_data
        return {
            "name": data["name"],
            "permissions": list(data["permissions"]),
            "rate_limit_per_minute": data["rate_limit_per_minute"],
            "expires_at": self._expiry(),
            "ip_allowlist": _split_lines(data["ip_allowlist"]),
            "spend_limit_credits": data["spend_limit_credits"],
            "spend_limit_period": data["spend_limit_period"] or ApiKey.SpendPeriod.MONTH,
            "allowed_models": list(data["allowed_models"]),
        }


class KeyCreateForm(OnceFormMixin, KeySettingsForm):
    type = forms.ChoiceField(
        label="Type",
        choices=ApiKey.Type.choices,
        initial=ApiKey.Type.LIVE,
        widget=forms.RadioSelect,
        help_text="Test keys are free, watermarked and limited to 100 requests a day.",
    )
    environment = forms.ChoiceField(
        label="Environment",
        choices=ApiKey.Environment.choices,
        initial=ApiKey.Environment.PRODUCTION,
    )

    project = forms.ChoiceField(
        label="Project",
        required=False,
        help_text="The project the key belongs to: its budget and rate-limit ceiling apply.",
    )

    def __init__(self, *args, projects=(), confined=False, **kwargs):
        super().__init__(*args, **kwargs)
        # Only the projects the person may create keys in (a project admin: theirs). A choice
        # outside these is refused by the form; a project admin (``confined``) must choose one,
        # since none means the Default project.
        self.fields["project"].choices = [(p.project_id, p.name) for p in projects]
        self.fields["project"].required = confined
        if projects and not self.initial.get("project"):
            self.initial["project"] = projects[0].project_id

    def service_kwargs(self) -> dict:
        data = self.cleaned_data
        return {
            **super().service_kwargs(),
            "type": data["type"],
            "environment": data["environment"],
            "project": data["project"] or None,
        }


class KeyEditForm(KeySettingsForm):
    """Change a key's name, settings and project on its page; ``apikey_update`` validates
    them. The projects offered are those the person may manage (a project admin: theirs)."""

    project = forms.ChoiceField(
        label="Project",
        help_text="Moving the key applies the new project's budget and ceiling to its next "
        "jobs; its past jobs stay where they were submitted.",
    )

    def __init__(self, *args, projects=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["project"].choices = [(p.project_id, p.name) for p in projects]

    def service_kwargs(self) -> dict:
        return {**super().service_kwargs(), "project": self.cleaned_data["project"]}

    @classmethod
    def initial_for(cls, key: ApiKey) -> dict:
        return {
            "project": key.project_id,
            "name": key.name,
            "permissions": list(key.permissions),
            "rate_limit_per_minute": key.rate_limit_per_minute,
            "expires_at": key.expires_at,
            "ip_allowlist": "\n".join(key.ip_allowlist or []),
            "spend_limit_credits": key.spend_limit_credits,
            "spend_limit_period": key.spend_limit_period or ApiKey.SpendPeriod.MONTH,
            "allowed_models": list(key.allowed_models),
        }


class KeyRenameForm(ServiceErrorsMixin, forms.Form):
    name = forms.CharField(label="Name", required=False)


def grace_choices() -> list[tuple[int, str]]:
    maximum = settings.APIKEYS_MAX_ROTATION_GRACE_SECONDS
    hour = 3600
    options = [
        (0, "Immediately: clients still using it fail at once"),
        (hour, "After 1 hour"),
        (24 * hour, "After 24 hours"),
        (3 * 24 * hour, "After 3 days"),
        (7 * 24 * hour, "After 7 days"),
    ]
    return [(seconds, label) for seconds, label in options if seconds <= maximum]


class KeyRotateForm(ServiceErrorsMixin, OnceFormMixin):
    grace_period_seconds = forms.TypedChoiceField(
        label="The current secret stops working",
        coerce=int,
        choices=grace_choices,
        # A grace period by default: ending the old secret at once breaks every client that
        # has not got the new one yet, so that is a choice to make, not the default.
        initial=3600,
        widget=forms.RadioSelect,
        help_text="A grace period lets you deploy the new secret before the old one stops.",
    )


class KeyFilterForm(forms.Form):
    status = forms.ChoiceField(
        label="Status", required=False, choices=[("", "Any status"), *ApiKey.Status.choices]
    )
    type = forms.ChoiceField(
        label="Type", required=False, choices=[("", "Any type"), *ApiKey.Type.choices]
    )
    environment = forms.ChoiceField(
        label="Environment",
        required=False,
        choices=[("", "Any environment"), *ApiKey.Environment.choices],
    )
    project = forms.ChoiceField(label="Project", required=False)

    def __init__(self, *args, projects=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["project"].choices = [
            ("", "Every project"),
            *((p.project_id, p.name) for p in projects),
        ]

    def filters(self) -> dict:
        if not self.is_valid():
            return {}
        return {name: value for name, value in self.cleaned_data.items() if value}
