"""``calypso``: the operator's command line. It talks to the portal's REST API (``/api/v1/``) and job
WebSocket (``/ws/jobs/<id>/``) over HTTP only, with an API token, so it runs on any machine with the same
permissions and audit trail as the API. It imports no Django and no other app (see ``.importlinter``)."""
