"""Postprocessing of the whole schema, after every operation was described."""

from drf_spectacular.drainage import warn

_METHODS = ("get", "put", "post", "delete", "patch")


def check_links(result, generator, request, public):
    """Keep only the links whose target operation exists and takes the parameters they give.

    A view names its links by operation id (``schema_links``); the target may live in another
    app, so this is checked once every operation is known.
    """
    targets = {}
    for item in result.get("paths", {}).values():
        for method in _METHODS:
            operation = item.get(method)
            if operation:
                names = {p["name"] for p in operation.get("parameters", ()) if p["in"] == "path"}
                targets[operation["operationId"]] = names
    for item in result.get("paths", {}).values():
        for method in _METHODS:
            for response in (item.get(method) or {}).get("responses", {}).values():
                links = response.get("links")
                if not links:
                    continue
                for name, link in list(links.items()):
                    wanted = targets.get(link["operationId"])
                    if wanted is None or set(link["parameters"]) != wanted:
                        warn(f"link {name} does not match operation {link['operationId']}")
                        del links[name]
                if not links:
                    del response["links"]
    return result
