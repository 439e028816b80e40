"""Take over the alert models from ``apikeys`` with their tables (``apikeys_alertrule``,
``apikeys_alertdelivery``): the state moves, the database is left as it is.

The content types are renamed rather than made anew, so permissions given on them (the
``Support`` group reads rules and deliveries) and admin log entries follow the models.
"""

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models

import perceptis.crypto

MODELS = ["alertrule", "alertdelivery"]


def rename_content_types(old: str, new: str):
    def rename(apps, schema_editor):
        content_type = apps.get_model("contenttypes", "ContentType")
        for model in MODELS:
            if not content_type.objects.filter(app_label=new, model=model).exists():
                content_type.objects.filter(app_label=old, model=model).update(app_label=new)

    return rename


METRICS = [
    ("requests", "Requests above N in the window"),
    ("error_rate", "Error rate above P% in the window"),
    ("p95_latency", "p95 latency above M ms in the window"),
    ("credits_below", "Credit balance below C"),
    ("key_expiring", "A key expires within D days"),
    ("key_spend", "A key reached N% of its spend limit"),
    ("org_spend", "The organization reached N% of its monthly spend limit"),
]
CHANNELS = [
    ("email", "Email"),
    ("webhook", "Signed JSON webhook"),
    ("slack", "Slack incoming webhook"),
]


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("accounts", "0003_plans"),
        ("apikeys", "0012_alert_models_move_to_alerts"),
        ("contenttypes", "0002_remove_content_type_name"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="AlertRule",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                        ("name", models.CharField(max_length=100)),
                        ("metric", models.CharField(choices=METRICS, max_length=16)),
                        ("threshold", models.FloatField()),
                        ("window_minutes", models.PositiveIntegerField(default=60)),
                        ("channel", models.CharField(choices=CHANNELS, max_length=8)),
                        ("destination", models.CharField(help_text="Email address or URL", max_length=500)),
                        ("signing_secret", perceptis.crypto.EncryptedCharField(blank=True, max_length=255)),
                        ("enabled", models.BooleanField(default=True)),
                        ("created_at", models.DateTimeField(default=django.utils.timezone.now)),
                        ("api_key", models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.CASCADE, related_name="alert_rules", to="apikeys.apikey")),
                        ("created_by", models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name="+", to=settings.AUTH_USER_MODEL)),
                        ("organization", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="alert_rules", to="accounts.organization")),
                    ],
                    options={"db_table": "apikeys_alertrule", "ordering": ["organization", "name"]},
                ),
                migrations.CreateModel(
                    name="AlertDelivery",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                        ("window_start", models.DateTimeField()),
                        ("value", models.FloatField()),
                        ("message", models.CharField(max_length=500)),
                        ("payload", models.JSONField(blank=True, default=dict)),
                        ("status", models.CharField(choices=[("pending", "Pending"), ("delivered", "Delivered"), ("failed", "Failed")], default="pending", max_length=12)),
                        ("attempts", models.PositiveSmallIntegerField(default=0)),
                        ("next_attempt_at", models.DateTimeField(blank=True, null=True)),
                        ("last_error", models.CharField(blank=True, max_length=500)),
                        ("fired_at", models.DateTimeField(default=django.utils.timezone.now)),
                        ("delivered_at", models.DateTimeField(blank=True, null=True)),
                        ("rule", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="deliveries", to="alerts.alertrule")),
                    ],
                    options={
                        "db_table": "apikeys_alertdelivery",
                        "verbose_name_plural": "alert deliveries",
                        "ordering": ["-fired_at"],
                        "indexes": [models.Index(fields=["status", "next_attempt_at"], name="apikeys_ale_status_a525cc_idx")],
                        "constraints": [models.UniqueConstraint(fields=("rule", "window_start"), name="one_firing_per_rule_window")],
                    },
                ),
            ],
            database_operations=[],
        ),
        migrations.RunPython(
            rename_content_types("apikeys", "alerts"), rename_content_types("alerts", "apikeys")
        ),
    ]
