from django.http import HttpRequest


def actor(request: HttpRequest) -> dict[str, object]:
    return {"actor": getattr(request, "actor", None)}


def idle_lock(request: HttpRequest) -> dict[str, object]:
    """The idle limit of this device, for the page's lock (``data-idle-seconds``; no query)."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or not hasattr(request, "session"):
        return {}
    from .idle import idle_seconds, is_shared_device

    seconds = idle_seconds(request)
    return {"idle_lock": {"seconds": seconds, "minutes": seconds // 60, "shared": is_shared_device(request)}}
