from accounts.audit import Actor
from accounts.plans import PLAN_CODES
from accounts.selectors import organization_by_slug
from accounts.services import organization_set_plan
from perceptis.management.base import OperatorCommand


class Command(OperatorCommand):
    help = "Move an organization to another plan; API access follows on the next request."

    def add_arguments(self, parser):
        parser.add_argument("--org", required=True, help="The organization's slug.")
        parser.add_argument("--plan", required=True, choices=PLAN_CODES)

    def handle(self, *args, **options):
        org = organization_by_slug(options["org"])
        plan = organization_set_plan(
            organization=org, plan_code=options["plan"], actor=Actor.system("operator (set_plan)")
        )
        self.stdout.write(f"{org.slug} is now on the {plan.name} plan.")
