import json

from accounts.audit import Actor
from accounts.plans import PLAN_CODES
from billing.services import organization_open
from perceptis.management.base import OperatorCommand, positive_or_zero_int


class Command(OperatorCommand):
    help = "Create an organization and print its slug."

    def add_arguments(self, parser):
        parser.add_argument("name", help="The organization's display name.")
        parser.add_argument("--plan", required=True, choices=PLAN_CODES)
        parser.add_argument(
            "--credits",
            type=positive_or_zero_int,
            default=None,
            help="Opening balance, exactly (0 is valid). Default: the plan's monthly credits.",
        )
        parser.add_argument("--json", action="store_true", help="Print the organization as JSON.")

    def handle(self, *args, **options):
        org = organization_open(
            name=options["name"],
            plan_code=options["plan"],
            credits=options["credits"],
            actor=Actor.system("operator (create_org)"),
        )
        if options["json"]:
            payload = {"slug": org.slug, "name": org.name, "plan": org.plan.code}
            self.stdout.write(json.dumps(payload))
        else:
            self.stdout.write(org.slug)
