"""Serializer descriptions drf-spectacular cannot infer (registered in ``ready``)."""

from drf_spectacular.extensions import OpenApiSerializerExtension


class RejectUnknownFieldsExtension(OpenApiSerializerExtension):
    """A body that refuses unknown fields says so: ``additionalProperties: false``."""

    target_class = "perceptis.fields.RejectUnknownFieldsMixin"
    match_subclasses = True

    def map_serializer(self, auto_schema, direction):
        schema = auto_schema._map_basic_serializer(self.target, direction)
        if direction == "request":
            schema["additionalProperties"] = False
        return schema
