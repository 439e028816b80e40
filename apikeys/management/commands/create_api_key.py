import argparse
import json
from datetime import timedelta

from django.utils import timezone

from accounts.audit import Actor
from accounts.selectors import organization_by_slug
from apikeys.keys.models import ApiKey, Permission
from apikeys.keys.services import apikey_create
from perceptis.management.base import OperatorCommand


def _days(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number") from None
    if not 1 <= number <= 3650:
        raise argparse.ArgumentTypeError("must be from 1 to 3650")
    return number


def _permissions(value: str) -> list[str]:
    perms = [p.strip() for p in value.split(",") if p.strip()]
    unknown = [p for p in perms if p not in Permission.values]
    if unknown or not perms:
        raise argparse.ArgumentTypeError(
            f"unknown permission {', '.join(unknown) or '(none)'}; known: "
            f"{','.join(Permission.values)}"
        )
    return perms


def _models(value: str) -> list[str]:
    # Only the shape here; the service checks each name against the price table.
    models = [m.strip() for m in value.split(",") if m.strip()]
    if not models:
        raise argparse.ArgumentTypeError("name at least one model, e.g. gpt-4o-mini")
    return models


class Command(OperatorCommand):
    help = (
        "Create an API key. The plaintext key goes to standard output, once; its Key ID to "
        "standard error."
    )

    def add_arguments(self, parser):
        parser.add_argument("--org", required=True, help="The organization's slug.")
        parser.add_argument("--name", required=True)
        parser.add_argument("--type", choices=ApiKey.Type.values, default=ApiKey.Type.LIVE)
        parser.add_argument(
            "--environment",
            choices=ApiKey.Environment.values,
            default=ApiKey.Environment.PRODUCTION,
        )
        parser.add_argument(
            "--permissions",
            type=_permissions,
            default=None,
            help="Comma-separated, e.g. jobs:write,jobs:read (the default).",
        )
        parser.add_argument(
            "--models",
            type=_models,
            default=None,
            help="Comma-separated model names from the price table the key may use, e.g. "
            "gpt-4o-mini,gpt-4o (default: every model the plan allows).",
        )
        parser.add_argument("--expires-in-days", type=_days, default=None)
        parser.add_argument(
            "--project",
            default=None,
            help="The project's id (proj_…); the organization's Default project if omitted.",
        )
        parser.add_argument(
            "--json",
            action="store_true",
            help="Print the key (plaintext included, once) and its details as JSON on stdout.",
        )

    def handle(self, *args, **options):
        org = organization_by_slug(options["org"])
        expires_at = None
        if options["expires_in_days"]:
            expires_at = timezone.now() + timedelta(days=options["expires_in_days"])
        key, plaintext = apikey_create(
            organization=org,
            name=options["name"],
            type=options["type"],
            environment=options["environment"],
            permissions=options["permissions"],
            allowed_models=options["models"],
            expires_at=expires_at,
            project=options["project"],
            actor=Actor.system("operator (create_api_key)"),
        )
        if options["json"]:
            payload = {
                "key": plaintext,
                "key_id": key.key_id,
                "organization": org.slug,
                "project": key.project_id,
                "name": key.name,
                "type": key.type,
                "environment": key.environment,
                "permissions": list(key.permissions),
                "allowed_models": list(key.allowed_models),
                "expires_at": key.expires_at.isoformat() if key.expires_at else None,
            }
            self.stdout.write(json.dumps(payload))
            return
        self.stderr.write(key.key_id)
        self.stdout.write(plaintext)
