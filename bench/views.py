"""The yardsticks: the product's status view with no authentication, and with DRF's tokens.

Both look the job up and build the body exactly as the product's ``StatusView`` does, so the
differences the benchmark reports are the authentication pipelines and nothing else.
"""

from rest_framework.authentication import TokenAuthentication
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from jobs.models import Job
from jobs.status import job_status_body


def _find_job(job_id: str) -> Job:
    # The product's lookup without the key condition: the same columns and index.
    return Job.objects.get(job_id=job_id)


class NoAuthStatusView(APIView):
    authentication_classes = []
    permission_classes = []
    throttle_classes = []

    def get(self, request, job_id: str):
        return Response(job_status_body(_find_job(job_id)))


class TokenStatusView(APIView):
    authentication_classes = [TokenAuthentication]
    permission_classes = [IsAuthenticated]
    throttle_classes = []

    def get(self, request, job_id: str):
        return Response(job_status_body(_find_job(job_id)))


class PingView(APIView):
    """The least a DRF view under the product's middleware can do: no key, no query."""

    authentication_classes = []
    permission_classes = [AllowAny]
    throttle_classes = []

    def get(self, request):
        return Response({"ok": True})
