"""A small client of the Kubernetes API over HTTPS with a client certificate: what the fixture, the
tests and the benchmark need to read the server (objects, lists, watches) and to set it up (RBAC,
nodes, volumes), and nothing the program itself uses (that is Pulumi's Kubernetes provider).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import requests
import yaml


class ApiError(Exception):
    """A request the API server refused: its HTTP status, reason and message."""

    def __init__(self, method: str, path: str, status: int, reason: str, message: str):
        super().__init__(f"{method} {path}: {status} {reason}: {message}")
        self.status = status
        self.reason = reason
        self.message = message


@dataclass(frozen=True)
class Credentials:
    server: str  # https://127.0.0.1:<port>
    ca: str  # file paths
    cert: str
    key: str


def kubeconfig_text(creds: Credentials, user: str, context: str = "devcluster") -> str:
    """A kubeconfig for one user (file paths, so no key material is copied into it)."""
    return yaml.safe_dump(
        {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": context, "cluster": {"server": creds.server, "certificate-authority": creds.ca}}],
            "users": [{"name": user, "user": {"client-certificate": creds.cert, "client-key": creds.key}}],
            "contexts": [{"name": context, "context": {"cluster": context, "user": user}}],
            "current-context": context,
        },
        sort_keys=False,
    )


def credentials_from_kubeconfig(path: str) -> Credentials:
    with open(path) as f:
        cfg = yaml.safe_load(f)
    ctx = next(c["context"] for c in cfg["contexts"] if c["name"] == cfg["current-context"])
    cluster = next(c["cluster"] for c in cfg["clusters"] if c["name"] == ctx["cluster"])
    user = next(u["user"] for u in cfg["users"] if u["name"] == ctx["user"])
    return Credentials(cluster["server"], cluster["certificate-authority"], user["client-certificate"], user["client-key"])


class KubeApi:
    def __init__(self, creds: Credentials, timeout: float = 30.0):
        self.creds = creds
        self.timeout = timeout
        self._session = requests.Session()
        # Only this cluster's CA, and no proxy: the environment's REQUESTS_CA_BUNDLE and *_PROXY
        # would otherwise win over the session's settings.
        self._session.trust_env = False
        self._session.verify = creds.ca
        self._session.cert = (creds.cert, creds.key)

    @classmethod
    def from_kubeconfig(cls, path: str) -> KubeApi:
        return cls(credentials_from_kubeconfig(path))

    def request(
        self,
        method: str,
        path: str,
        body=None,
        *,
        content_type: str = "application/json",
        params: dict | None = None,
        ok_missing: bool = False,
    ):
        data = None
        if body is not None:
            data = body if isinstance(body, (str, bytes)) else json.dumps(body)
        r = self._session.request(
            method,
            self.creds.server + path,
            data=data,
            params=params,
            headers={"Content-Type": content_type, "Accept": "application/json"},
            timeout=self.timeout,
        )
        if r.status_code == 404 and ok_missing:
            return None
        if r.status_code >= 400:
            try:
                status = r.json()
                reason, message = status.get("reason", ""), status.get("message", r.text)
            except ValueError:
                reason, message = "", r.text.strip()
            raise ApiError(method, path, r.status_code, reason, message)
        return r.json() if r.content else None

    def get(self, path: str, **params):
        return self.request("GET", path, params=params or None, ok_missing=True)

    def items(self, path: str, **params) -> list:
        return self.request("GET", path, params=params or None)["items"]

    def create(self, path: str, obj: dict):
        return self.request("POST", path, obj)

    def apply(self, path: str, obj: dict, manager: str = "keep-cd-devcluster"):
        """Server-side apply of ``obj`` at ``path`` (the object's own URL)."""
        return self.request(
            "PATCH", path, obj, content_type="application/apply-patch+yaml", params={"fieldManager": manager, "force": "true"}
        )

    def delete(self, path: str):
        return self.request("DELETE", path, ok_missing=True)

    def ready(self) -> bool:
        """The API server answers /readyz with ok (every post-start hook done)."""
        try:
            return self._session.get(self.creds.server + "/readyz", timeout=5).status_code == 200
        except requests.RequestException:
            return False

    def version(self) -> dict:
        return self.request("GET", "/version")

    def watch(self, path: str, on_event: Callable[[dict], None], stop: threading.Event, **params) -> None:
        """Call ``on_event`` with each watch event of ``path`` (a list URL) in the server's order,
        until ``stop`` is set; reconnects from the last resourceVersion seen."""
        version = params.pop("resourceVersion", None)
        while not stop.is_set():
            query = {"watch": "true", "allowWatchBookmarks": "false", "timeoutSeconds": "5", **params}
            if version:
                query["resourceVersion"] = version
            with self._session.get(self.creds.server + path, params=query, stream=True, timeout=(self.timeout, 30)) as r:
                if r.status_code >= 400:
                    raise ApiError("WATCH", path, r.status_code, "", r.text.strip())
                for event in _lines(r):
                    if event.get("type") == "ERROR":
                        version = None  # expired: list again from now
                        break
                    version = event["object"]["metadata"].get("resourceVersion", version)
                    on_event(event)
                    if stop.is_set():
                        return


def _lines(response) -> Iterator[dict]:
    for line in response.iter_lines():
        if line:
            yield json.loads(line)
