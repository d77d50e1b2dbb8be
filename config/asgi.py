"""ASGI entry point: Django for HTTP, Channels consumers for websockets."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
# Django must be set up before anything imports models (consumers, auth middleware).
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from inbox.log_filters import (  # noqa: E402
    install_access_log_filter,
    route_server_log_to_console,
)
from inbox.routing import websocket_urlpatterns  # noqa: E402

# uvicorn's access log, when it is on, writes no query string, link secret or full address.
install_access_log_filter()
# uvicorn's other lines, tracebacks included, are written without exception messages.
route_server_log_to_console()

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": AllowedHostsOriginValidator(
            AuthMiddlewareStack(URLRouter(websocket_urlpatterns))
        ),
    }
)
