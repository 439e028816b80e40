"""The base class of every key-authenticated API view: the whole request pipeline."""

from rest_framework.views import APIView

from apikeys import ratelimit
from apikeys.authentication import ApiKeyAuthentication
from apikeys.permissions import HasKeyPermission, KeyAccess
from perceptis.errors import ApiError


class KeyAuthenticatedView(APIView):
    """Authenticate the key, check access and permission, count the request against its limits.

    Subclasses set ``required_permission`` (a permission, or ``{method: permission}``). Every
    response to a request that got past authentication carries the ``RateLimit-*`` headers.
    """

    authentication_classes = [ApiKeyAuthentication]
    permission_classes = [KeyAccess, HasKeyPermission]
    throttle_classes = []
    required_permission: str | dict | None = None

    def check_throttles(self, request):
        try:
            request._request.rate_limit = ratelimit.hit(request.auth)
        except ratelimit.OverLimit as over:
            request._request.rate_limit = over.state
            raise ApiError(over.error, headers={"Retry-After": str(over.retry_after)}) from None

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        key = getattr(request._request, "api_key", None)
        if key is not None:
            state = getattr(request._request, "rate_limit", None) or ratelimit.peek(key)
            for name, value in state.headers().items():
                response[name] = value
        return response
