"""Reads about credits."""

from django.db.models import Sum

from accounts.models import Organization
from billing.models import LedgerEntry


def credits_ledger_sum(*, organization: Organization) -> int:
    """Return the sum of the organization's ledger amounts: its balance by definition.

    ``CreditAccount.balance`` is kept equal to this in the same transaction as every ledger
    row; support pages show this sum so that what they read is the ledger itself.
    """
    total = LedgerEntry.objects.filter(account__organization=organization).aggregate(
        total=Sum("amount")
    )["total"]
    return total or 0
