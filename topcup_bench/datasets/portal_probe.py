"""A quick check that the CZ cryoET Data Portal answers, before copick's long retries.

Without network access copick's portal client retries for a long time (or
hangs on a black-holed route); :func:`probe_portal` fails within
:data:`PROBE_TIMEOUT_SECONDS` instead, with one line naming the host and the
reason.
"""

from __future__ import annotations

import socket
import threading
import urllib.request
from urllib.parse import urlsplit

from topcup_bench.errors import PortalUnreachableError

__all__ = ["PORTAL_GRAPHQL_URL", "PROBE_TIMEOUT_SECONDS", "probe_portal"]

try:  # the endpoint copick's portal client talks to
    from cryoet_data_portal._client import DEFAULT_URL as PORTAL_GRAPHQL_URL
except ImportError:  # pragma: no cover - cryoet-data-portal is a dependency of copick
    PORTAL_GRAPHQL_URL = "https://graphql.cryoetdataportal.czscience.com/graphql"

#: Seconds the connectivity probe waits (name resolution included) before giving up.
PROBE_TIMEOUT_SECONDS = 3.0


def probe_portal(
    source: str, *, url: str | None = None, timeout: float = PROBE_TIMEOUT_SECONDS
) -> None:
    """Check within ``timeout`` seconds that the portal's endpoint accepts a connection.

    A TCP connection to the host and port of ``url`` (default
    :data:`PORTAL_GRAPHQL_URL`), or to the HTTPS proxy when one is configured;
    name resolution counts against ``timeout`` too (it runs in a thread).

    Parameters
    ----------
    source : str
        The dataset spec, named in the error.
    url : str, optional
        Endpoint to probe; default :data:`PORTAL_GRAPHQL_URL`.
    timeout : float
        Seconds before giving up.

    Raises
    ------
    PortalUnreachableError
        One line: the host and port tried and why the connection failed.
    """
    parts = urlsplit(url or PORTAL_GRAPHQL_URL)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    target, via = (host, port), ""
    proxy = urllib.request.getproxies().get(parts.scheme or "https")
    if proxy and not urllib.request.proxy_bypass(host):
        proxy_parts = urlsplit(proxy if "://" in proxy else f"http://{proxy}")
        target = (proxy_parts.hostname or "", proxy_parts.port or 80)
        via = f" through the proxy {target[0]}:{target[1]}"
    outcome: list[OSError | None] = []

    def connect() -> None:
        try:
            socket.create_connection(target, timeout=timeout).close()
            outcome.append(None)
        except OSError as error:
            outcome.append(error)

    worker = threading.Thread(target=connect, name="portal-probe", daemon=True)
    worker.start()
    worker.join(timeout)
    if outcome and outcome[0] is None:
        return
    reason = _probe_reason(outcome[0] if outcome else None, timeout)
    raise PortalUnreachableError(
        source,
        f"cannot reach the CZ cryoET Data Portal at {host}:{port}{via} ({reason}); portal "
        "datasets need network access; offline, use a local copick project or kaggle:DIR",
    )


def _probe_reason(error: OSError | None, timeout: float) -> str:
    """Why the probe failed, in a few words."""
    if error is None or isinstance(error, TimeoutError):
        return f"no answer within {timeout:g} s"
    if isinstance(error, socket.gaierror):
        return f"host name not resolved: {error.strerror or error}"
    if isinstance(error, ConnectionRefusedError):
        return "connection refused"
    return error.strerror or str(error) or type(error).__name__
