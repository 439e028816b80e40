import json

from django.db import transaction

from accounts.audit import Actor
from accounts.members.services import membership_create
from accounts.models import Membership
from accounts.selectors import organization_by_slug
from accounts.services import user_create
from perceptis.management.base import OperatorCommand


class Command(OperatorCommand):
    help = "Create a user who signs in with an email address and password."

    def add_arguments(self, parser):
        parser.add_argument("--org", help="Slug of the organization to join (optional for staff).")
        parser.add_argument("--email", required=True)
        parser.add_argument("--password", required=True)
        parser.add_argument(
            "--role", choices=Membership.Role.values, default=Membership.Role.MEMBER
        )
        parser.add_argument("--staff", action="store_true", help="Let the user sign in to admin.")
        parser.add_argument(
            "--group",
            action="append",
            default=[],
            dest="groups",
            help="Add the user to this group (repeatable), e.g. --group Support.",
        )
        parser.add_argument("--json", action="store_true", help="Print the user as JSON.")

    def handle(self, *args, **options):
        from django.core.management.base import CommandError

        if not options["org"] and not options["staff"]:
            raise CommandError("--org is required unless the user is --staff.")
        org = organization_by_slug(options["org"]) if options["org"] else None
        actor = Actor.system("operator (create_user)")
        # A refused membership leaves no user behind.
        with transaction.atomic():
            user = user_create(
                email=options["email"],
                password=options["password"],
                is_staff=options["staff"],
                group_names=options["groups"],
                actor=actor,
            )
            if org is not None:
                membership_create(user=user, organization=org, role=options["role"], actor=actor)
        if options["json"]:
            payload = {
                "email": user.email,
                "organization": org.slug if org else None,
                "role": options["role"] if org else None,
                "staff": user.is_staff,
            }
            self.stdout.write(json.dumps(payload))
        else:
            self.stdout.write(user.email)
