"""``GET /api/v1/projects``: the projects a key can see, with this month's spend.

A key sees one project, its own: the organization's other projects, their names and budgets
are none of its business (a project admin's view, on the pages, is the same rule for people).
"""

from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import Project
from apikeys.keys.models import Permission
from apikeys.projects.serializers import ProjectPageSerializer, ProjectSerializer
from billing.periods import spend_periods


def project_rows(projects, *, now) -> list[dict]:
    """Return each project's figures, this month's spend read from its counter."""
    _, month = spend_periods(now)
    for project in projects:
        project.spend_this_month = project.spent_this_month(month)
    return ProjectSerializer(projects, many=True).data


class ProjectListView(APIView):
    required_permission = Permission.USAGE_READ
    schema_tag = "Projects"

    @extend_schema(
        operation_id="projects_list",
        summary="The projects this key can see (its own), with this month's spend",
        description=(
            "The acting key's project: its id, name, whether it is the Default project or "
            "archived, its monthly spend limit and this UTC month's spend against it (credits "
            "its jobs hold or were charged), and its rate-limit ceiling. Needs `usage:read`."
        ),
        responses={200: ProjectPageSerializer},
    )
    def get(self, request):
        projects = Project.objects.filter(
            organization_id=request.auth.organization_id, project_id=request.auth.project_id
        )
        return Response({"results": project_rows(projects, now=timezone.now()), "next": None})
