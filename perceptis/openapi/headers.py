"""Response headers the API sends, as OpenAPI header objects."""


def _header(description: str, schema: dict, *, required: bool = True) -> dict:
    return {"description": description, "required": required, "schema": schema}


def request_id() -> dict:
    return _header(
        "The request's id, also in error bodies; quote it to support.", {"type": "string"}
    )


def rate_limit(*, required: bool) -> dict:
    """Return the ``RateLimit-*`` headers of a response to a request that got past authentication.

    ``required`` is False where the same status may also come before authentication.
    """
    when = "" if required else " Sent when the request got past authentication."
    return {
        "RateLimit-Limit": _header(
            "Requests per minute this key may make." + when,
            {"type": "integer", "minimum": 0},
            required=required,
        ),
        "RateLimit-Remaining": _header(
            "Requests left in the current minute." + when,
            {"type": "integer", "minimum": 0},
            required=required,
        ),
        "RateLimit-Reset": _header(
            "Seconds until the current minute's window ends." + when,
            {"type": "integer", "minimum": 0},
            required=required,
        ),
    }


def retry_after() -> dict:
    return _header("Seconds to wait before retrying.", {"type": "integer", "minimum": 0})


def www_authenticate() -> dict:
    return _header("The Bearer challenge (RFC 6750).", {"type": "string"})
