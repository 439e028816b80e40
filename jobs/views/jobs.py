"""Developer Settings: the organization's jobs, one job's record, and canceling it.

Everyone in the organization reads; owners and admins cancel (a member's POST is 403), through
the same ``job_cancel`` service as the API and admin, audited with the person as actor.
"""

import json

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from accounts.audit import Actor
from accounts.decorators import manager_required, member_required
from apikeys.keys.selectors import apikey_list
from jobs.errors import JobNotCancelable, JobNotFound
from jobs.forms import JobFilterForm
from jobs.models import Job
from jobs.selectors import job_get, jobs_list
from jobs.services import job_cancel
from perceptis.pagination import paginate

CANCELABLE = (Job.Status.QUEUED, Job.Status.RUNNING)


def job_or_404(request, job_id: str) -> Job:
    """Return the current organization's job; any other organization's job is a 404."""
    try:
        return job_get(organization=request.organization, job_id=job_id)
    except JobNotFound:
        raise Http404("No such job in this organization.") from None


def _pretty(value) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True)


@require_GET
@member_required
def job_list(request):
    """The organization's jobs, newest first, by key, status and submission time."""
    keys = list(apikey_list(organization=request.organization).order_by("name", "id"))
    form = JobFilterForm(request.GET, keys=keys)
    jobs = jobs_list(organization=request.organization, **form.filters()).select_related("api_key")
    return render(request, "developer/jobs.html", {"form": form, "page": paginate(request, jobs)})


@require_GET
@member_required
def job_detail(request, job_id):
    job = job_or_404(request, job_id)
    context = {
        "job": job,
        "options": _pretty(job.options),
        "result": _pretty(job.result) if job.result is not None else None,
        "can_cancel": request.membership.can_manage_keys
        and job.status in CANCELABLE
        and not job.cancel_requested,
    }
    return render(request, "developer/job_detail.html", context)


@require_POST
@manager_required
def job_cancel_page(request, job_id):
    job = job_or_404(request, job_id)
    try:
        job = job_cancel(job=job, actor=Actor.for_request(request))
    except JobNotCancelable as exc:
        messages.error(request, exc.message)
    else:
        if job.status == Job.Status.CANCELED:
            messages.success(request, f"Job {job.job_id} was canceled; its credits came back.")
        else:
            messages.success(request, f"Cancel requested: job {job.job_id} stops at its next step.")
    return redirect("developer-job", job.job_id)
