"""``{% usage_panel key %}``: a key's usage figures and chart on a page of another concern.

The key page (``apikeys.keys``) sits below usage, so it does not import usage's views; its
template pulls the panel in through this tag instead (registered in ``TEMPLATES``).
"""

from django import template

from apikeys.usage.views import usage_context

register = template.Library()


@register.inclusion_tag("developer/_usage.html", takes_context=True)
def usage_panel(context, api_key=None):
    """Render the usage of ``api_key`` (or of the whole organization) for the ``?window=``."""
    request = context["request"]
    return {"request": request, **usage_context(request, api_key=api_key)}
