"""Serializer fields stricter than DRF's defaults: no silent type coercion from JSON."""

from rest_framework import serializers


class StrictCharField(serializers.CharField):
    """A string field that refuses numbers and booleans instead of turning them into text."""

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictIntegerField(serializers.IntegerField):
    """An integer field that refuses strings, floats and booleans."""

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictDictField(serializers.DictField):
    def to_internal_value(self, data):
        if not isinstance(data, dict):
            self.fail("not_a_dict", input_type=type(data).__name__)
        return super().to_internal_value(data)


class StrictListField(serializers.ListField):
    def to_internal_value(self, data):
        if not isinstance(data, list):
            self.fail("not_a_list", input_type=type(data).__name__)
        return super().to_internal_value(data)


class RejectUnknownFieldsMixin:
    """Refuse fields the serializer does not know, so a typo is an error and not a no-op."""

    unknown_message = "Unknown field."

    def to_internal_value(self, data):
        if isinstance(data, dict):
            unknown = sorted(set(data) - set(self.fields))
            if unknown:
                raise serializers.ValidationError(
                    {name[:64]: [self.unknown_message] for name in unknown[:20]}
                )
        return super().to_internal_value(data)


class QuerySerializer(RejectUnknownFieldsMixin, serializers.Serializer):
    """A list endpoint's query string: a parameter it does not know (a typo such as
    ``?stauts=active``) is refused, not ignored with every row answered."""

    unknown_message = "Unknown query parameter."
