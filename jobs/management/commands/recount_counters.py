from django.core.management.base import CommandError

from accounts.audit import Actor
from accounts.selectors import organization_by_slug
from jobs.services.recount import counters_recount, recounted_organizations
from perceptis.management.base import OperatorCommand


class Command(OperatorCommand):
    help = (
        "Compare the counters submissions are admitted on (jobs in flight, spend per period, "
        "the balance) with what the jobs and the ledger count; --fix sets the counters to the "
        "counts (never the balance). Exits 1 when a difference is left."
    )

    def add_arguments(self, parser):
        parser.add_argument("--org", help="Only this organization (its slug); default: all.")
        parser.add_argument(
            "--fix", action="store_true", help="Set each differing counter to its count."
        )

    def handle(self, *args, **options):
        if options["org"]:
            organizations = [organization_by_slug(options["org"])]
        else:
            organizations = recounted_organizations()
        actor = Actor.system("operator (recount_counters)")
        checked = fixed = left = 0
        for organization in organizations:
            checked += 1
            for difference in counters_recount(
                organization=organization, fix=options["fix"], actor=actor
            ):
                if options["fix"] and difference.fixable:
                    fixed += 1
                    self.stdout.write(
                        f"{organization.slug}: {difference}; set to {difference.counted}"
                    )
                else:
                    left += 1
                    self.stdout.write(f"{organization.slug}: {difference}")
        summary = f"{checked} organization(s) recounted, {fixed} counter(s) fixed"
        if left:
            raise CommandError(f"{summary}, {left} difference(s) left.")
        self.stdout.write(f"{summary}; every counter matches its count.")
