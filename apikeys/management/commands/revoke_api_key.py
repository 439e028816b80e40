from django.core.management.base import CommandError

from accounts.audit import Actor
from apikeys.keys.models import ApiKey
from apikeys.keys.services import apikey_revoke
from perceptis.management.base import OperatorCommand


class Command(OperatorCommand):
    help = "Revoke an API key by its Key ID; it stops working at once."

    def add_arguments(self, parser):
        parser.add_argument("key_id", help="The Key ID, e.g. key_7Hq2mZ0pX4tVb9Qe.")

    def handle(self, *args, **options):
        key = ApiKey.objects.filter(key_id=options["key_id"]).first()
        if key is None:
            raise CommandError(f"No API key with Key ID {options['key_id']!r}.")
        apikey_revoke(key=key, actor=Actor.system("operator (revoke_api_key)"))
        self.stdout.write(f"Revoked {key.key_id}.")
