"""HTTP plumbing for the SDKs: default timeouts, base-URL rewriting. Knows nothing of tickets."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from requests.structures import CaseInsensitiveDict
from urllib3.exceptions import NewConnectionError

__all__ = ["BridgeSession", "is_write", "normalise_base_url", "sent_for_sure_not"]

Timeout = float | tuple[float, float] | tuple[float, None] | None


class _TimeoutAdapter(HTTPAdapter):
    """Gives every request a timeout: neither SDK sets one reliably."""

    def __init__(self, timeout: float) -> None:
        super().__init__(max_retries=0)
        self._timeout = timeout

    def send(
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: Timeout = None,
        verify: bool | str = True,
        cert: bytes | str | tuple[bytes | str, bytes | str] | None = None,
        proxies: Mapping[str, str] | None = None,
    ) -> requests.Response:
        return super().send(
            request,
            stream=stream,
            timeout=self._timeout if timeout is None else timeout,
            verify=verify,
            cert=cert,
            proxies=proxies,
        )


def normalise_base_url(base_url: str) -> str:
    """``http(s)://host[:port][/prefix]`` without a trailing slash; ValueError otherwise."""
    parts = urlsplit(base_url)
    if parts.scheme not in {"http", "https"} or not parts.netloc or parts.query or parts.fragment:
        raise ValueError("base_url must look like http://127.0.0.1:8000")
    return base_url.rstrip("/")


class BridgeSession(requests.Session):
    """A session with a default timeout that can point an SDK's hard-coded host elsewhere.

    ``rewrites`` maps a URL prefix (``https://api.twitter.com/``) to its replacement; the URL is
    rewritten before authentication is applied, so OAuth 1.0a signs what is really sent.
    ``extra_params`` are added to every request (Graph's ``appsecret_proof``). The status and
    headers of the last response stay readable because facebook-sdk hides them.
    """

    def __init__(
        self,
        *,
        timeout: float,
        rewrites: Mapping[str, str] | None = None,
        extra_params: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__()
        adapter = _TimeoutAdapter(timeout)
        self.mount("https://", adapter)
        self.mount("http://", adapter)
        self.trust_env = False  # proxies or netrc from the environment are not ours to read
        self._rewrites = tuple((rewrites or {}).items())
        self._extra_params = dict(extra_params or {})
        self._last = threading.local()  # connectors may be shared between worker threads
        self.hooks["response"].append(self._remember)

    @property
    def last_status(self) -> int | None:
        """HTTP status of this thread's last response (None before one arrived)."""
        status: int | None = getattr(self._last, "status", None)
        return status

    @property
    def last_headers(self) -> CaseInsensitiveDict[str]:
        """Headers of this thread's last response (empty before one arrived)."""
        headers: CaseInsensitiveDict[str] | None = getattr(self._last, "headers", None)
        return headers if headers is not None else CaseInsensitiveDict()

    def prepare_request(self, request: requests.Request) -> requests.PreparedRequest:
        for prefix, replacement in self._rewrites:
            if request.url.startswith(prefix):
                request.url = replacement + request.url[len(prefix) :]
                break
        if self._extra_params and isinstance(request.params, Mapping):
            request.params = {**self._extra_params, **request.params}
        self._last.status = None
        self._last.headers = CaseInsensitiveDict()
        return super().prepare_request(request)

    def _remember(self, response: requests.Response, *args: object, **kwargs: object) -> None:
        self._last.status = response.status_code
        self._last.headers = CaseInsensitiveDict(response.headers)


def is_write(method: str) -> bool:
    return method.upper() not in {"GET", "HEAD", "OPTIONS"}


def sent_for_sure_not(exc: requests.RequestException) -> bool:
    """True when the request certainly never reached the server (so no write happened)."""
    if isinstance(exc, requests.ConnectTimeout):
        return True
    if isinstance(exc, requests.ConnectionError) and exc.args:
        reason = getattr(exc.args[0], "reason", None)
        return isinstance(reason, NewConnectionError)
    return False
