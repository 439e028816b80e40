"""Developer Settings pages for webhook endpoints: list, create, detail with the deliveries log,
edit, rotate the secret, delete; a delivery's page (payload and attempts), sending a test event
and resending a delivery.

Everyone in the organization sees the endpoints and their deliveries; only owners and admins
change them, and choose on creation whether one receives the events of one project or of all.
A signing secret is shown once, in the answer to the POST that made it, and making one asks for
a recent password or two-factor code, as creating or rotating a key does.
"""

import json

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.cache import add_never_cache_headers
from django.views.decorators.http import require_http_methods, require_POST

from accounts.audit import Actor
from accounts.decorators import (
    manager_required,
    member_required,
    recent_authentication_required,
)
from accounts.projects.selectors import project_list
from perceptis.errors import DomainError
from perceptis.pagination import paginate
from webhooks import selectors, services
from webhooks.forms import EndpointCreateForm, EndpointForm


def _endpoint(request, endpoint_id: str):
    endpoint = selectors.webhookendpoint_find(
        organization=request.organization, public_id=endpoint_id
    )
    if endpoint is None:
        raise Http404("No such webhook endpoint.")
    return endpoint


def _show_secret(request, endpoint, secret: str, *, rotated: bool):
    # Like a new API key: the answer to the POST, ``no-store``, never a redirect, the session
    # or a message. Later pages only say that a secret is set.
    response = render(
        request,
        "developer/webhooks/secret.html",
        {"endpoint": endpoint, "secret": secret, "rotated": rotated},
    )
    add_never_cache_headers(response)
    return response


@member_required
def webhook_list(request):
    endpoints = selectors.webhookendpoint_list(organization=request.organization)
    return render(
        request,
        "developer/webhooks/list.html",
        {"endpoints": endpoints, "can_manage": request.membership.can_manage_keys},
    )


@require_http_methods(["GET", "POST"])
@manager_required
@recent_authentication_required
def webhook_create(request):
    projects = project_list(organization=request.organization, include_archived=False)
    form = EndpointCreateForm(request.POST or None, projects=projects)
    if request.method == "POST" and form.is_valid():
        try:
            endpoint, secret = services.webhookendpoint_create(
                organization=request.organization,
                actor=Actor.for_request(request),
                **form.cleaned_data,
            )
        except DomainError as exc:
            form.add_service_errors(exc)
        else:
            return _show_secret(request, endpoint, secret, rotated=False)
    return render(request, "developer/webhooks/form.html", {"form": form, "endpoint": None})


@member_required
def webhook_detail(request, endpoint_id: str):
    endpoint = _endpoint(request, endpoint_id)
    page = paginate(request, selectors.webhookdelivery_list(endpoint=endpoint))
    return render(
        request,
        "developer/webhooks/detail.html",
        {"endpoint": endpoint, "page": page, "can_manage": request.membership.can_manage_keys},
    )


@member_required
def webhook_delivery(request, endpoint_id: str, message_id: str):
    endpoint = _endpoint(request, endpoint_id)
    delivery = selectors.webhookdelivery_find(endpoint=endpoint, public_id=message_id)
    if delivery is None:
        raise Http404("No such delivery.")
    return render(
        request,
        "developer/webhooks/delivery.html",
        {
            "endpoint": endpoint,
            "delivery": delivery,
            "payload": json.dumps(delivery.payload, indent=2, ensure_ascii=False),
            "attempts": selectors.webhookattempt_list(delivery=delivery),
            "can_manage": request.membership.can_manage_keys,
        },
    )


@require_POST
@manager_required
def webhook_send_test(request, endpoint_id: str):
    endpoint = _endpoint(request, endpoint_id)
    try:
        delivery = services.webhookendpoint_send_test(
            endpoint=endpoint, actor=Actor.for_request(request)
        )
    except DomainError as exc:
        messages.error(request, str(exc))
        return redirect("developer-webhook", endpoint_id=endpoint.public_id)
    messages.success(request, "Test event queued: it is sent within seconds.")
    return redirect(
        "developer-webhook-delivery", endpoint_id=endpoint.public_id, message_id=delivery.public_id
    )


@require_POST
@manager_required
def webhook_resend(request, endpoint_id: str, message_id: str):
    endpoint = _endpoint(request, endpoint_id)
    delivery = selectors.webhookdelivery_find(endpoint=endpoint, public_id=message_id)
    if delivery is None:
        raise Http404("No such delivery.")
    try:
        services.webhookdelivery_resend(delivery=delivery, actor=Actor.for_request(request))
    except DomainError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, "Delivery queued again, with the same webhook-id.")
    return redirect(
        "developer-webhook-delivery", endpoint_id=endpoint.public_id, message_id=delivery.public_id
    )


@manager_required
@require_http_methods(["GET", "POST"])
def webhook_edit(request, endpoint_id: str):
    endpoint = _endpoint(request, endpoint_id)
    initial = {f: getattr(endpoint, f) for f in services.ENDPOINT_FIELDS}
    form = EndpointForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.webhookendpoint_update(
                endpoint=endpoint, actor=Actor.for_request(request), **form.cleaned_data
            )
        except DomainError as exc:
            form.add_service_errors(exc)
        else:
            messages.success(request, "Webhook endpoint saved.")
            return redirect("developer-webhook", endpoint_id=endpoint.public_id)
    return render(request, "developer/webhooks/form.html", {"form": form, "endpoint": endpoint})


@require_http_methods(["GET", "POST"])
@manager_required
@recent_authentication_required
def webhook_rotate(request, endpoint_id: str):
    endpoint = _endpoint(request, endpoint_id)
    if request.method == "POST":
        endpoint, secret = services.webhookendpoint_rotate_secret(
            endpoint=endpoint, actor=Actor.for_request(request)
        )
        return _show_secret(request, endpoint, secret, rotated=True)
    return render(request, "developer/webhooks/rotate.html", {"endpoint": endpoint})


@manager_required
@require_http_methods(["GET", "POST"])
def webhook_delete(request, endpoint_id: str):
    endpoint = _endpoint(request, endpoint_id)
    if request.method == "POST":
        services.webhookendpoint_delete(endpoint=endpoint, actor=Actor.for_request(request))
        messages.success(request, "Webhook endpoint deleted.")
        return redirect("developer-webhooks")
    return render(request, "developer/webhooks/delete.html", {"endpoint": endpoint})
