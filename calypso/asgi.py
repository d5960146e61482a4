"""ASGI entry point: HTTP through Django, WebSockets through Channels (``/ws/...``), and a lifespan that
connects the server to the job queue as it starts, not on the first job."""

import asyncio
import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "calypso.settings")
django_asgi = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler  # noqa: E402

from apps.accounts.channels import TokenOrSessionAuthMiddleware  # noqa: E402
from apps.jobs.routing import websocket_urlpatterns  # noqa: E402
from apps.jobs.services import warm_up_sender  # noqa: E402

WARM_UP_TIMEOUT_S = 5.0  # the server starts anyway after this; the first enqueue then connects


async def lifespan(scope, receive, send):
    """Server start: warm the job sender (a broker that does not answer in time delays nothing more)."""
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            try:
                await asyncio.wait_for(asyncio.to_thread(warm_up_sender), WARM_UP_TIMEOUT_S)
            except TimeoutError:
                pass
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


application = ProtocolTypeRouter(
    {
        "http": ASGIStaticFilesHandler(django_asgi),
        "websocket": TokenOrSessionAuthMiddleware(URLRouter(websocket_urlpatterns)),
        "lifespan": lifespan,
    }
)
