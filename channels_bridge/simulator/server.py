"""Loopback HTTP server of the simulator: Graph + X on one port, faults, and the /_sim/ API."""

from __future__ import annotations

import ipaddress
import json
import logging
import socket
import threading
import time
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from urllib.parse import parse_qs, urlsplit

from channels_bridge.simulator import graph, world, xapi, xoauth
from channels_bridge.simulator.state import Fault, FaultKind, Simulator
from channels_bridge.simulator.traffic import TrafficGenerator
from channels_bridge.simulator.wire import (
    X_CONTENT_TYPE,
    JsonObj,
    Request,
    Response,
    json_response,
)

logger = logging.getLogger(__name__)

_HTML_ERROR = b"<html><head><title>502 Bad Gateway</title></head><body>Bad Gateway</body></html>"


class SimulatorBindError(ValueError):
    """Raised when asked to listen on an address that is not loopback."""


def is_loopback(host: str) -> bool:
    """Whether host names a loopback address (127.0.0.0/8, ::1 or 'localhost')."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


# -- faults ------------------------------------------------------------------------------------


def fault_response(
    sim: Simulator, platform: str, fault: Fault, route: str, method: str
) -> Response:
    """The answer an injected rate limit, server error or expired token produces."""
    now = sim.now()
    if fault.kind is FaultKind.RATE_LIMIT:
        reset = int(now) + fault.reset_after_s
        if platform == "x":
            err = xapi.rate_limited(xapi.RATE_LIMITS.get(f"{method} {route}", 300), reset)
            return json_response(
                fault.status or 429, err.body, content_type=X_CONTENT_TYPE, headers=err.headers
            )
        gerr, headers = graph.rate_limit_error(fault.graph_code, fault.reset_after_s)
        headers["facebook-api-version"] = world.GRAPH_VERSION
        return json_response(
            fault.status or gerr.status, graph.error_body(gerr, route), headers=headers
        )
    if fault.kind is FaultKind.EXPIRED_TOKEN:
        if platform == "x":
            xerr = xapi.unauthorized()
            return json_response(401, xerr.body, content_type=X_CONTENT_TYPE)
        return json_response(
            400,
            graph.error_body(graph.expired_error(now), route),
            headers={
                "facebook-api-version": world.GRAPH_VERSION,
                "www-authenticate": 'OAuth "Facebook Platform" '
                '"invalid_token" "Session has expired"',
            },
        )
    return server_error(platform, fault.status or 503, html=fault.html, route=route)


def server_error(platform: str, status: int, *, html: bool = False, route: str = "") -> Response:
    """A 5xx answer: JSON in the platform's shape, or an HTML gateway page."""
    if html:
        return Response(status, _HTML_ERROR, "text/html; charset=utf-8")
    if platform == "x":
        phrase = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else "Error"
        err = xapi.problem(status, phrase, phrase)
        return json_response(status, err.body, content_type=X_CONTENT_TYPE)
    code, message = (
        (1, "An unknown error occurred")
        if status == 500
        else (2, "An unexpected error has occurred. Please retry your request later.")
    )
    gerr = graph.GraphError(code, message, transient=True, status=status)
    return json_response(
        status, graph.error_body(gerr, route), headers={"facebook-api-version": world.GRAPH_VERSION}
    )


def dispatch(sim: Simulator, req: Request, traffic: TrafficGenerator | None = None) -> Response:
    """Route one request: control API, or a platform API with faults applied."""
    if req.path == "/_sim" or req.path.startswith("/_sim/"):
        return control(sim, req, traffic)
    if req.path == "/2" or req.path.startswith("/2/") or xoauth.is_oauth_path(req.path):
        platform = "x"
        route = xapi.route_of(req.method, req.path)
    else:
        platform = "facebook"
        route = graph.route_of(req.path)
    sim.count_request(platform, req.method, route)
    faults = sim.take_faults(platform, req.method, req.path, route)
    blocking: Fault | None = None
    for fault in faults:
        if fault.kind is FaultKind.SLOW:
            time.sleep(fault.delay_ms / 1000)
        else:
            blocking = fault
    if blocking is not None and blocking.kind is not FaultKind.CRASH_AFTER_WRITE:
        logger.info("fault applied id=%s kind=%s route=%s", blocking.id, blocking.kind, route)
        return fault_response(sim, platform, blocking, route, req.method)
    if xoauth.is_oauth_path(req.path):
        response = xoauth.handle(sim, req)
    else:
        response = xapi.handle(sim, req) if platform == "x" else graph.handle(sim, req)
    if blocking is not None:
        logger.info(
            "fault applied after work id=%s mode=%s route=%s",
            blocking.id,
            blocking.crash_mode,
            route,
        )
        if blocking.crash_mode == "close":
            return Response(0, None, close=True)
        return server_error(platform, blocking.status or 500, html=blocking.html, route=route)
    return response


# -- control API -------------------------------------------------------------------------------


class ControlError(Exception):
    """A bad control request."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _body(req: Request) -> dict[str, object]:
    if isinstance(req.json_body, dict):
        return {str(k): v for k, v in req.json_body.items()}
    merged: dict[str, object] = {k: v[0] for k, v in req.form.items() if v}
    merged.update({k: v[0] for k, v in req.query.items() if v})
    return merged


def _str(body: dict[str, object], name: str, default: str | None = None) -> str | None:
    value = body.get(name, default)
    if value is None:
        return None
    if isinstance(value, str | int):
        return str(value)
    raise ControlError(400, f"{name} must be a string")


def _num(body: dict[str, object], name: str, default: float) -> float:
    value = body.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ControlError(400, f"{name} must be a number")
    try:
        return float(value)
    except ValueError as exc:
        raise ControlError(400, f"{name} must be a number") from exc


def _flag(body: dict[str, object], name: str) -> bool | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false", "1", "0"):
        return value.lower() in ("true", "1")
    raise ControlError(400, f"{name} must be a boolean")


def _required_text(body: dict[str, object]) -> str:
    text = _str(body, "text")
    if not text:
        raise ControlError(400, "text is required")
    return text


def control(sim: Simulator, req: Request, traffic: TrafficGenerator | None) -> Response:
    """The /_sim/ control API (JSON in, JSON out). Never affected by faults."""
    try:
        status, body = _control(sim, req, traffic)
    except ControlError as err:
        return json_response(err.status, {"error": err.message})
    except KeyError as err:
        return json_response(404, {"error": f"unknown id {err.args[0]!s}"})
    except ValueError as err:
        return json_response(400, {"error": str(err)})
    return json_response(status, body)


def _control(sim: Simulator, req: Request, traffic: TrafficGenerator | None) -> tuple[int, JsonObj]:
    method, path = req.method, req.path.rstrip("/")
    body = _body(req)
    if (method, path) == ("GET", "/_sim/health"):
        return 200, {"ok": True, "base_url": req.base_url}
    if (method, path) == ("GET", "/_sim/state"):
        return 200, sim.snapshot()
    if (method, path) == ("GET", "/_sim/credentials"):
        return 200, {p: dict(world.default_credentials(p)) for p in world.PLATFORMS}
    if (method, path) == ("POST", "/_sim/reset"):
        seed = body.get("seed")
        sim.reset(seed=int(seed) if isinstance(seed, int | str) else None)
        return 200, {"ok": True}
    if (method, path) == ("GET", "/_sim/faults"):
        return 200, {"faults": [f.as_json() for f in sim.faults]}
    if (method, path) == ("POST", "/_sim/faults"):
        return 201, {"id": _add_fault(sim, body)}
    if method == "DELETE" and path == "/_sim/faults":
        return 200, {"removed": sim.clear_faults()}
    if method == "DELETE" and path.startswith("/_sim/faults/"):
        fault_id = path.rsplit("/", 1)[1]
        if not fault_id.isdigit():
            raise ControlError(400, "fault id must be a number")
        return 200, {"removed": sim.clear_faults(int(fault_id))}
    if (method, path) == ("POST", "/_sim/customer/facebook/comment"):
        return 201, dict(
            sim.customer_facebook_comment(
                _required_text(body),
                customer=_str(body, "customer", "lena") or "lena",
                post_id=_str(body, "post_id"),
                parent_id=_str(body, "parent_id"),
                age_seconds=_num(body, "age_seconds", 0),
            )
        )
    if (method, path) == ("POST", "/_sim/customer/facebook/message"):
        return 201, dict(
            sim.customer_facebook_message(
                _required_text(body), customer=_str(body, "customer", "lena") or "lena"
            )
        )
    if (method, path) == ("POST", "/_sim/customer/x/mention"):
        mention = _flag(body, "mention")
        return 201, dict(
            sim.customer_x_mention(
                _required_text(body),
                customer=_str(body, "customer", "tom") or "tom",
                in_reply_to_tweet_id=_str(body, "in_reply_to_tweet_id"),
                age_seconds=_num(body, "age_seconds", 0),
                mention=True if mention is None else mention,
            )
        )
    if (method, path) == ("POST", "/_sim/customer/x/dm"):
        return 201, dict(
            sim.customer_x_dm(_required_text(body), customer=_str(body, "customer", "tom") or "tom")
        )
    if (method, path) == ("POST", "/_sim/tokens/expire"):
        after = body.get("after_seconds")
        return 200, {
            "count": sim.expire_tokens(
                _str(body, "platform"),
                _str(body, "token"),
                after_seconds=None if after is None else _num(body, "after_seconds", 0),
            )
        }
    if (method, path) == ("POST", "/_sim/tokens/renew"):
        return 200, {"count": sim.renew_tokens(_str(body, "platform"), _str(body, "token"))}
    if (method, path) == ("POST", "/_sim/clock"):
        now = sim.advance_clock(_num(body, "advance_seconds", 0))
        return 200, {"now": int(now)}
    if (method, path) == ("POST", "/_sim/settings"):
        return 200, _settings(sim, body)
    if (method, path) == ("POST", "/_sim/traffic"):
        if traffic is None:
            raise ControlError(409, "no traffic generator attached")
        if "per_minute" in body:
            traffic.set_rate(_num(body, "per_minute", 0))
        events = [traffic.step() for _ in range(int(_num(body, "inject", 0)))]
        return 200, {
            "per_minute": traffic.per_minute,
            "injected": traffic.injected,
            "events": list(events),
        }
    raise ControlError(404, f"no control endpoint {method} {path}")


def _add_fault(sim: Simulator, body: dict[str, object]) -> int:
    kind = _str(body, "kind")
    if kind is None:
        raise ControlError(400, "kind is required")
    times_raw = body.get("times", 1)
    times = None if times_raw is None else int(_num(body, "times", 1))
    status = body.get("status")
    crash_mode = _str(body, "crash_mode", "500")
    if crash_mode not in ("500", "close"):
        raise ControlError(400, "crash_mode must be '500' or 'close'")
    return sim.add_fault(
        kind,
        platform=_str(body, "platform", "any") or "any",
        method=_str(body, "method", "*") or "*",
        path=_str(body, "path", "*") or "*",
        times=times,
        status=int(_num(body, "status", 0)) if status is not None else None,
        delay_ms=int(_num(body, "delay_ms", 0)),
        reset_after_s=int(_num(body, "reset_after_s", 60)),
        graph_code=int(_num(body, "graph_code", 4)),
        crash_mode="close" if crash_mode == "close" else "500",
        html=bool(_flag(body, "html")),
    )


def _settings(sim: Simulator, body: dict[str, object]) -> JsonObj:
    with sim.lock:
        mention = _flag(body, "x_reply_requires_mention")
        if mention is not None:
            sim.x_reply_requires_mention = mention
        enforce = _flag(body, "x_enforce_rate_limits")
        if enforce is not None:
            sim.x_enforce_rate_limits = enforce
        if "x_oauth_user" in body:
            sim.x_oauth_user = _str(body, "x_oauth_user") or None
        return {
            "x_reply_requires_mention": sim.x_reply_requires_mention,
            "x_enforce_rate_limits": sim.x_enforce_rate_limits,
            "x_oauth_user": sim.x_oauth_user,
        }


# -- HTTP server -------------------------------------------------------------------------------


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(
        self, address: tuple[str, int], sim: Simulator, traffic: TrafficGenerator | None
    ) -> None:
        self.sim = sim
        self.traffic = traffic
        super().__init__(address, _Handler)

    def handle_error(self, request: object, client_address: object) -> None:
        # A client that gave up (a connector's timeout in a slow-response test) is expected:
        # log one line instead of the default traceback on stderr.
        logger.info("simulator client went away client=%s", client_address)


class _Server6(_Server):
    address_family = socket.AF_INET6


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Without TCP_NODELAY a kept-alive response waits ~40 ms for the client's delayed ACK.
    disable_nagle_algorithm = True
    server_version = "HavenPlatformSimulator/1.0"
    timeout = 60

    server: _Server

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def do_PUT(self) -> None:
        self._serve()

    def do_DELETE(self) -> None:
        self._serve()

    def _serve(self) -> None:
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length > 0 else b""
        content_type = (self.headers.get("Content-Type") or "").lower()
        form: dict[str, list[str]] = {}
        json_body: object = None
        if raw and "application/x-www-form-urlencoded" in content_type:
            form = parse_qs(raw.decode("utf-8", "replace"), keep_blank_values=True)
        elif raw:
            try:
                json_body = json.loads(raw)
            except ValueError:
                json_body = None
        host = self.headers.get("Host") or "{}:{}".format(*self.server.server_address[:2])
        req = Request(
            method=self.command,
            path=parts.path or "/",
            query=parse_qs(parts.query, keep_blank_values=True),
            form=form,
            json_body=json_body,
            headers={k.lower(): v for k, v in self.headers.items()},
            base_url=f"http://{host}",
        )
        if raw and json_body is None and not form and req.path.startswith("/2/"):
            self._send(
                json_response(
                    400,
                    {
                        "title": "Invalid Request",
                        "detail": "Request body is not valid JSON.",
                        "type": "https://api.twitter.com/2/problems/invalid-request",
                    },
                    content_type=X_CONTENT_TYPE,
                )
            )
            return
        try:
            response = dispatch(self.server.sim, req, self.server.traffic)
        except Exception:  # process edge: answer 500 rather than drop the connection
            logger.exception("simulator request failed method=%s path=%s", self.command, req.path)
            response = server_error("x" if req.path.startswith("/2/") else "facebook", 500)
        self._send(response)

    def _send(self, response: Response) -> None:
        if response.close:
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                logger.debug("connection already closed")
            return
        payload = response.encode()
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(len(payload)))
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: object) -> None:
        # The default logs the request line with its query string, which holds access tokens.
        path = urlsplit(getattr(self, "path", "")).path
        logger.debug("request method=%s path=%s", getattr(self, "command", ""), path)

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        path = urlsplit(getattr(self, "path", "")).path
        logger.debug("response method=%s path=%s status=%s", self.command, path, code)


class RunningSimulator:
    """A simulator serving on a loopback port. Use as a context manager or call stop()."""

    def __init__(self, server: _Server, sim: Simulator, traffic: TrafficGenerator) -> None:
        self._server = server
        self.sim = sim
        self.traffic = traffic
        host, port = server.server_address[:2]
        self.host = str(host)
        self.port = int(port)
        shown = f"[{self.host}]" if ":" in self.host else self.host
        self.base_url = f"http://{shown}:{self.port}"
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.1},
            name=f"sim-http-{self.port}",
            daemon=True,
        )

    @property
    def graph_url(self) -> str:
        """Replacement for https://graph.facebook.com (no trailing slash)."""
        return self.base_url

    @property
    def x_url(self) -> str:
        """Replacement for https://api.twitter.com (no trailing slash)."""
        return self.base_url

    def credentials(self, platform: world.Platform) -> dict[str, str]:
        """The default account's credentials on this platform (simulated values)."""
        return world.default_credentials(platform)

    def _start(self) -> None:
        self._thread.start()
        logger.info("simulator listening port=%s", self.port)

    def stop(self) -> None:
        """Stop traffic and the server, and free the port."""
        self.traffic.stop()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
        logger.info("simulator stopped port=%s", self.port)

    def __enter__(self) -> RunningSimulator:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def start_simulator(
    port: int = 0,
    *,
    host: str = "127.0.0.1",
    seed: int = 0,
    traffic_per_minute: float = 0,
    sim: Simulator | None = None,
) -> RunningSimulator:
    """Start the simulator in background threads and return it (port=0 picks a free port).

    Raises SimulatorBindError for a non-loopback host and OSError if the port is taken.
    """
    if not is_loopback(host):
        raise SimulatorBindError(f"the simulator binds to loopback only, not {host!r}")
    state = sim or Simulator(seed=seed)
    traffic = TrafficGenerator(state, per_minute=traffic_per_minute, seed=seed)
    bind_host = "127.0.0.1" if host == "localhost" else host.strip("[]")
    server_cls = _Server6 if ":" in bind_host else _Server
    server = server_cls((bind_host, port), state, traffic)
    running = RunningSimulator(server, state, traffic)
    running._start()
    if traffic_per_minute > 0:
        traffic.start()
    return running
