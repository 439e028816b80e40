import argparse

from accounts.audit import Actor
from accounts.selectors import organization_by_slug
from billing.services import credits_grant
from perceptis.management.base import OperatorCommand


def _positive(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number") from None
    if number <= 0:
        raise argparse.ArgumentTypeError("must be a positive whole number")
    return number


class Command(OperatorCommand):
    help = "Grant credits to an organization's pool, with a reason for the ledger."

    def add_arguments(self, parser):
        parser.add_argument("--org", required=True, help="The organization's slug.")
        parser.add_argument("--amount", required=True, type=_positive)
        parser.add_argument("--reason", required=True)

    def handle(self, *args, **options):
        org = organization_by_slug(options["org"])
        entry = credits_grant(
            organization=org,
            amount=options["amount"],
            reason=options["reason"],
            actor=Actor.system("operator (grant_credits)"),
        )
        self.stdout.write(f"Granted {entry.amount} credits; balance {entry.balance_after}.")
