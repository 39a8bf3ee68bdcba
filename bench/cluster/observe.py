"""What the API server says about a fleet: the order in which it stored Deployments' creations and
their becoming Available (one watch, so the server's own order), which ReplicaSets each Deployment
owns, which are Available.  Read with the admin's credentials, never inferred from the program.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from .api import KubeApi


def _available(deployment: dict) -> bool:
    return any(c["type"] == "Available" and c["status"] == "True" for c in deployment.get("status", {}).get("conditions", []))


@dataclass
class DeploymentTimeline:
    """A watch of one namespace's Deployments: ``events`` are (what, name) in the server's order,
    ``what`` being ``created`` (first seen) or ``available`` (first seen with Available=True)."""

    api: KubeApi
    namespace: str
    events: list = field(default_factory=list)
    error: BaseException | None = None

    def __post_init__(self):
        self._stop = threading.Event()
        self._seen: set = set()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> DeploymentTimeline:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def _run(self) -> None:
        try:
            self.api.watch(f"/apis/apps/v1/namespaces/{self.namespace}/deployments", self._on_event, self._stop)
        except BaseException as e:  # reported by the caller's checks
            self.error = e

    def _on_event(self, event: dict) -> None:
        obj = event["object"]
        name = obj["metadata"]["name"]
        if event["type"] == "DELETED":
            return
        if ("created", name) not in self._seen:
            self._record("created", name)
        if _available(obj) and ("available", name) not in self._seen:
            self._record("available", name)

    def _record(self, what: str, name: str) -> None:
        self._seen.add((what, name))
        self.events.append((what, name))

    def index(self, what: str, name: str) -> int | None:
        try:
            return self.events.index((what, name))
        except ValueError:
            return None

    def bootstrap_first(self, bootstrap: list, standard: list) -> bool:
        """Every bootstrap Deployment became Available before any standard Deployment existed."""
        if self.error is not None:
            raise self.error
        available = [self.index("available", b) for b in bootstrap]
        created = [self.index("created", s) for s in standard]
        available_at = [i for i in available if i is not None]
        created_at = [i for i in created if i is not None]
        if len(available_at) < len(available) or len(created_at) < len(created):
            return False
        return max(available_at) < min(created_at)


def replica_sets(api: KubeApi, namespace: str) -> dict:
    """Deployment name -> the names of the ReplicaSets it owns."""
    out: dict = {}
    for rs in api.items(f"/apis/apps/v1/namespaces/{namespace}/replicasets"):
        for ref in rs["metadata"].get("ownerReferences", []):
            if ref["kind"] == "Deployment":
                out.setdefault(ref["name"], set()).add(rs["metadata"]["name"])
    return out


def rolled(before: dict, after: dict) -> set:
    """The Deployments that own a ReplicaSet after that they did not own before."""
    return {name for name, sets in after.items() if sets - before.get(name, set())}


def deployments(api: KubeApi, namespace: str) -> dict:
    """Deployment name -> whether it is Available."""
    return {d["metadata"]["name"]: _available(d) for d in api.items(f"/apis/apps/v1/namespaces/{namespace}/deployments")}
