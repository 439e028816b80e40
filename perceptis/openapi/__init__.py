"""The OpenAPI description of ``/api/v1/``, built from what the code declares.

``ApiAutoSchema`` (``DEFAULT_SCHEMA_CLASS``) gives every operation, without the view asking:

- its error responses, one per status, whose ``code`` is an ``enum`` of exactly the codes the
  operation can answer. They are read from the error classes (``DomainError`` subclasses) that
  the request pipeline's DRF classes list in ``errors`` (authentication, permissions, throttles),
  that the view lists in ``errors`` (a tuple, or ``{method: tuple}``), and the refusals any
  request may get (``GENERIC_ERRORS``; with a path parameter ``not_found``, with a body
  ``unsupported_media_type`` and ``length_required``);
- the response headers: ``X-Request-ID`` everywhere, ``RateLimit-*`` after authentication,
  ``Retry-After`` on 429 and 503, ``WWW-Authenticate`` on 401; a view adds its own with
  ``OpenApiParameter(..., response=[status])``;
- its tag from the view's ``schema_tag`` and OpenAPI links from its ``schema_links``
  (``{method: {operation_id: {parameter: expression}}}``), checked by ``hooks.check_links``.

Descriptions are only what ``extend_schema`` says: docstrings are for developers and never reach
the schema (``DISABLE_DOCSTRING_DESCRIPTIONS``).
"""
