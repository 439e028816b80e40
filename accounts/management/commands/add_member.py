import json

from accounts.audit import Actor
from accounts.members.services import membership_create
from accounts.models import Membership, User
from accounts.selectors import organization_by_slug
from perceptis.errors import NotFound
from perceptis.management.base import OperatorCommand


class Command(OperatorCommand):
    help = "Make an existing user a member of another organization with a role."

    def add_arguments(self, parser):
        parser.add_argument("--org", required=True, help="The organization's slug.")
        parser.add_argument("--email", required=True, help="The existing user's email address.")
        parser.add_argument("--role", required=True, choices=Membership.Role.values)
        parser.add_argument("--json", action="store_true", help="Print the membership as JSON.")

    def handle(self, *args, **options):
        org = organization_by_slug(options["org"])
        email = options["email"].strip().lower()
        user = User.objects.filter(email=email).first()
        if user is None:
            raise NotFound(f"No user with the email {email}; create_user makes new people.")
        membership = membership_create(
            user=user,
            organization=org,
            role=options["role"],
            actor=Actor.system("operator (add_member)"),
        )
        if options["json"]:
            payload = {"organization": org.slug, "email": user.email, "role": membership.role}
            self.stdout.write(json.dumps(payload))
        else:
            self.stdout.write(f"{user.email} is now {membership.role} of {org.slug}")
