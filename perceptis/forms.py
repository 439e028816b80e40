"""Pieces every app's forms use."""

from perceptis.errors import DomainError, InvalidRequest


class ServiceErrorsMixin:
    def add_service_errors(self, exc: DomainError) -> None:
        """Put a service's refusal next to the fields it names, or above the form."""
        fields = exc.fields if isinstance(exc, InvalidRequest) and exc.fields else {}
        for field, messages in fields.items():
            for message in messages:
                self.add_error(field if field in self.fields else None, message)
        if not fields:
            self.add_error(None, exc.message)
