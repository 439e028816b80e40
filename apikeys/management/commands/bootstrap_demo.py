from django.conf import settings

from accounts.audit import Actor
from accounts.members.services import membership_create
from accounts.models import Membership, Organization, User
from accounts.services import user_create
from apikeys.keys.models import Permission
from apikeys.keys.services import apikey_create
from billing.services import organization_open
from perceptis.management.base import OperatorCommand

DEMO_SLUG = "demo"
DEMO_EMAIL = "admin@demo.example"
DEMO_PASSWORD = "perceptis-demo-password"


class Command(OperatorCommand):
    help = (
        "Create the demo organization (Business plan, credits), its admin user and one live API "
        "key, printed once. Does nothing when the demo organization already exists."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--allow-insecure-demo",
            action="store_true",
            help="Run even with DEBUG=False: the demo owner's password is published.",
        )

    def handle(self, *args, **options):
        if not settings.DEBUG and not options["allow_insecure_demo"]:
            from django.core.management.base import CommandError

            raise CommandError(
                "Refusing to create the demo with DEBUG=False: its owner's password is in the "
                "README. Pass --allow-insecure-demo to do it anyway."
            )
        if Organization.objects.filter(slug=DEMO_SLUG).exists():
            self.stdout.write(
                "The demo organization exists already; its key was printed when it was made. "
                "Make another with: python manage.py create_api_key --org demo --name 'Demo key'"
            )
            return
        actor = Actor.system("demo bootstrap")
        org = organization_open(
            name="Demo",
            plan_code="business",
            credits=settings.BILLING_DEFAULT_DEMO_CREDITS,
            actor=actor,
        )
        if not User.objects.filter(email=DEMO_EMAIL).exists():
            user = user_create(email=DEMO_EMAIL, password=DEMO_PASSWORD, actor=actor)
            membership_create(user=user, organization=org, role=Membership.Role.OWNER, actor=actor)
        # Every permission, so that the README's key-management and usage examples work with it.
        key, plaintext = apikey_create(
            organization=org,
            name="Demo key",
            actor=actor,
            permissions=[p.value for p in Permission],
        )
        self.stdout.write(
            "\n".join(
                [
                    f"Organization: {org.name} ({org.slug}), Business plan, "
                    f"{settings.BILLING_DEFAULT_DEMO_CREDITS} credits",
                    f"Sign in at /accounts/login/ as {DEMO_EMAIL} / {DEMO_PASSWORD}",
                    f"API key {key.key_id} (shown once, store it now):",
                    f"    {plaintext}",
                ]
            )
        )
