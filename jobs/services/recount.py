"""Recounting the counters a submission checks, from the jobs and the ledger themselves.

A submission is admitted on kept counters (``jobs.services.admission``): the credit account's
balance, jobs in flight and month's spend, each project's month's spend, each key's day's,
month's and total spend. They are moved in the same statements as the jobs and ledger rows they
count, so they never drift; ``counters_recount`` is how an operator sees that they have not (and
puts them right if a bug or a hand-edit of the database ever made them).

The recount that fixes (and the check of a difference seen without locks) locks the
organization's keys, its projects, then its credit account, the order every submission and
settlement locks them in, and only then sums the jobs: a transaction that changed a job and
waits for one of those rows has not committed, so its job is counted as it was and its move to
the counters lands on the recount's figures afterwards. The figures are exact even while the
organization submits. The balance is compared with the ledger's sum and
reported, never changed: a difference there is a fault in the money path, for a person to read.
A key's total spend is only raised, never lowered: jobs past their retention are deleted, and
the total keeps what they spent.
"""

import logging
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from accounts.audit import Actor, audit_record
from accounts.models import Organization, Project
from apikeys.keys.models import ApiKey
from billing.models import CreditAccount
from billing.periods import spend_periods
from billing.selectors import credits_ledger_sum
from jobs.models import Job
from jobs.selectors import (
    spend_figures_by_key,
    spend_for_organization,
    spend_for_project,
    spend_period_start,
)

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Difference:
    """One counter that is not what the jobs (or the ledger) count."""

    row: str  # "credit account", "project proj_…", "key key_…"
    counter: str
    kept: int
    counted: int
    fixable: bool = True

    def __str__(self) -> str:
        verdict = "" if self.fixable else " (not changed: for a person to look into)"
        return f"{self.row}: {self.counter} is {self.kept}, counted {self.counted}{verdict}"


def counters_recount(
    *, organization: Organization, fix: bool = False, actor: Actor | None = None, now=None
) -> list[Difference]:
    """Return the organization's counters that differ from what its jobs and ledger count.

    With ``fix``, set every fixable one to its count in the same transaction, audited with
    ``actor`` (``counters.recounted``, each difference in its metadata). Without, the counters
    are first compared without locks, which holds no submission back; only a difference found
    that way is counted again under the locks (a submission committing between two reads can
    make one appear) and reported if it is still there.
    """
    if not fix and not _recount(organization, now=now, lock=False):
        return []
    return _recount(organization, now=now, lock=True, fix=fix, actor=actor)


def _recount(organization, *, now, lock: bool, fix: bool = False, actor=None) -> list:
    now = now or timezone.now()
    day, month = spend_periods(now)
    month_start = spend_period_start(ApiKey.SpendPeriod.MONTH, now)

    def rows(model):
        return model.objects.select_for_update() if lock else model.objects

    with transaction.atomic():
        keys = list(rows(ApiKey).filter(organization=organization).order_by("pk"))
        projects = list(rows(Project).filter(organization=organization).order_by("pk"))
        account = rows(CreditAccount).get(organization=organization)

        differences, moves = [], []

        def compare(row, label, counter, kept, counted, *, fixable=True, move=None):
            if kept != counted:
                differences.append(Difference(label, counter, kept, counted, fixable))
                if fixable:
                    moves.append((row, move or {counter: counted}))

        compare(
            account,
            "credit account",
            "balance (the ledger's sum)",
            account.balance,
            credits_ledger_sum(organization=organization),
            fixable=False,
        )
        compare(
            account,
            "credit account",
            "jobs_in_flight",
            account.jobs_in_flight,
            Job.objects.filter(organization=organization, status__in=Job.IN_FLIGHT).count(),
        )
        counted = spend_for_organization(organization=organization, since=month_start)
        compare(
            account,
            "credit account",
            "spend_month",
            account.spent_this_month(month),
            counted,
            move={"spend_month": counted, "spend_month_start": month},
        )
        for project in projects:
            counted = spend_for_project(project=project, since=month_start)
            compare(
                project,
                f"project {project.project_id}",
                "spend_month",
                project.spent_this_month(month),
                counted,
                move={"spend_month": counted, "spend_month_start": month},
            )
        figures = spend_figures_by_key(keys=keys, now=now)
        for key in keys:
            counted, label = figures[key.pk], f"key {key.key_id}"
            compare(
                key,
                label,
                "spend_day",
                key.spent_today(day),
                counted["day"],
                move={"spend_day": counted["day"], "spend_day_start": day},
            )
            compare(
                key,
                label,
                "spend_month",
                key.spent_this_month(month),
                counted["month"],
                move={"spend_month": counted["month"], "spend_month_start": month},
            )
            if key.spend_total < counted["total"]:
                compare(key, label, "spend_total", key.spend_total, counted["total"])

        if fix and moves:
            for row, values in moves:
                type(row).objects.filter(pk=row.pk).update(**values)
            audit_record(
                actor=actor or Actor.system("counters recount"),
                action="counters.recounted",
                organization=organization,
                target=organization,
                metadata={"differences": [str(d) for d in differences if d.fixable]},
            )
    return differences


def recounted_organizations():
    """Every organization with a credit account (so with counters), one at a time."""
    return Organization.objects.filter(credit_account__isnull=False).order_by("pk").iterator()


def counters_audit() -> int:
    """Recount every organization's counters, changing nothing; log each difference as an
    error (an operator runs ``recount_counters --fix`` after reading it). Return how many."""
    found = 0
    for organization in recounted_organizations():
        for difference in counters_recount(organization=organization):
            found += 1
            logger.error("Counter differs from its count: %s: %s", organization.slug, difference)
    return found
