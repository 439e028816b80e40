"""Fill the submission counters of existing keys and credit accounts from their jobs."""

from datetime import UTC

from django.db import migrations
from django.db.models import Case, Count, IntegerField, Q, Sum, When
from django.utils import timezone

IN_FLIGHT = ["queued", "running"]
SPEND = Sum(
    Case(
        When(status__in=IN_FLIGHT, then="credits_reserved"),
        When(status__in=["succeeded", "canceled"], then="credits_charged"),
        default=0,
        output_field=IntegerField(),
    )
)


def fill(apps, schema_editor):
    Job = apps.get_model("jobs", "Job")
    ApiKey = apps.get_model("apikeys", "ApiKey")
    CreditAccount = apps.get_model("billing", "CreditAccount")
    now = timezone.now().astimezone(UTC)
    day = now.date()
    month = day.replace(day=1)

    def spend(jobs, since=None):
        if since is not None:
            jobs = jobs.filter(created_at__date__gte=since)
        return jobs.aggregate(spend=SPEND)["spend"] or 0

    for key in ApiKey.objects.all().iterator():
        jobs = Job.objects.filter(api_key_id=key.pk)
        ApiKey.objects.filter(pk=key.pk).update(
            spend_day_start=day,
            spend_day=spend(jobs, day),
            spend_month_start=month,
            spend_month=spend(jobs, month),
            spend_total=spend(jobs),
        )
    for account in CreditAccount.objects.all().iterator():
        jobs = Job.objects.filter(organization_id=account.organization_id)
        CreditAccount.objects.filter(pk=account.pk).update(
            jobs_in_flight=jobs.aggregate(n=Count("pk", filter=Q(status__in=IN_FLIGHT)))["n"],
            spend_month_start=month,
            spend_month=spend(jobs, month),
        )


class Migration(migrations.Migration):
    dependencies = [
        ("jobs", "0006_job_cancel_requested"),
        ("apikeys", "0013_key_spend_counters"),
        ("billing", "0005_account_submission_counters"),
    ]

    operations = [migrations.RunPython(fill, migrations.RunPython.noop)]
