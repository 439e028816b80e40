"""A base for operator commands: domain refusals become one-line errors and a non-zero exit."""

from django.core.management.base import BaseCommand, CommandError

from perceptis.errors import DomainError


class OperatorCommand(BaseCommand):
    def create_parser(self, prog_name, subcommand, **kwargs):
        parser = super().create_parser(prog_name, subcommand, **kwargs)
        django_error = parser.error

        def error(message):
            # On the command line a usage mistake is one line on stderr, like any other refusal,
            # not argparse's usage block; call_command still gets Django's CommandError.
            if parser.called_from_command_line:
                parser.exit(2, f"{parser.prog}: error: {message} (see --help)\n")
            django_error(message)

        parser.error = error
        return parser

    def execute(self, *args, **options):
        try:
            return super().execute(*args, **options)
        except DomainError as exc:
            message = exc.message
            if exc.fields:
                details = "; ".join(f"{f}: {' '.join(m)}" for f, m in exc.fields.items())
                message = f"{message} {details}"
            raise CommandError(message) from None


def positive_or_zero_int(value: str) -> int:
    import argparse

    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number") from None
    if number < 0:
        raise argparse.ArgumentTypeError("must be 0 or more")
    return number
