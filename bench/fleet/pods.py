"""What the rendered manifests ask a kubelet to run, read back from ``<dir>/1-manifest/*.yaml``.

Only the objects the Kubernetes provider wrote are read: each keep-client Deployment's pod
template (init containers, container, volumes, security context), the ConfigMaps and Secrets its
volumes and env name, and the Services whose DNS names peers dial.  Nothing is rendered again here.
"""

from __future__ import annotations

import base64
import glob
import os
from dataclasses import dataclass, field
from typing import Any

import yaml

MANIFEST_DIR = "1-manifest"
CLIENT_LABEL = ("app.kubernetes.io/name", "keep-client")
ROLE_LABEL = "app.kubernetes.io/component"
# Bootstrap clients first: standard clients dial them (the order the program's depends_on gives).
ROLE_ORDER = ("bootstrap", "standard")


class FleetInputError(Exception):
    """The manifests cannot be run as they are; one line naming the file or object and why."""


@dataclass(frozen=True)
class Pod:
    """One keep-client's pod, as its Deployment's template describes it."""

    name: str  # the Deployment's
    namespace: str
    role: str
    spec: dict  # the pod template's spec, as rendered
    annotations: dict  # the pod template's
    config_maps: dict  # name -> {key: text}, the ConfigMaps of its namespace
    secrets: dict  # name -> {key: text}, the Secrets of its namespace (decoded)

    @property
    def init_containers(self) -> list[dict]:
        return list(self.spec.get("initContainers") or [])

    @property
    def container(self) -> dict:
        return self.spec["containers"][0]

    def container_port(self, name: str) -> int:
        """A named port of the client container (libp2p, metrics, diagnostics)."""
        for port in self.container.get("ports") or []:
            if port.get("name") == name:
                return int(port["containerPort"])
        raise FleetInputError(f"Deployment {self.namespace}/{self.name}: container {self.container['name']} declares no port {name!r}")

    def ports(self) -> list[int]:
        return [int(p["containerPort"]) for p in self.container.get("ports") or []]

    def secret_value(self, ref: dict) -> str:
        secret, key = ref.get("name"), ref.get("key")
        data = self.secrets.get(secret)
        if data is None or key not in data:
            raise FleetInputError(f"Deployment {self.namespace}/{self.name}: env from Secret {secret} key {key}, which is not rendered")
        return data[key]

    def config_map_text(self, name: str, key: str) -> str:
        data = self.config_maps.get(name)
        if data is None or key not in data:
            raise FleetInputError(f"Deployment {self.namespace}/{self.name}: ConfigMap {name} key {key} is not rendered")
        return data[key]


@dataclass(frozen=True)
class RenderedFleet:
    directory: str
    pods: tuple  # of Pod, bootstrap first, then by name
    service_hosts: tuple  # the DNS names of the rendered Services, each as peers would dial it
    files: tuple = field(default=())  # the manifest files read

    def pod(self, name: str) -> Pod:
        for pod in self.pods:
            if pod.name == name:
                return pod
        raise FleetInputError(f"{self.directory}: no keep-client Deployment {name!r}")


def _load(path: str) -> dict:
    try:
        with open(path) as f:
            obj = yaml.safe_load(f)
    except (OSError, yaml.YAMLError) as e:
        raise FleetInputError(f"{path}: cannot read a manifest ({str(e).splitlines()[0]})") from None
    if not isinstance(obj, dict) or "kind" not in obj:
        raise FleetInputError(f"{path}: not a Kubernetes object (expected a map with a kind)")
    return obj


def _secret_data(obj: dict) -> dict[str, str]:
    data = {k: base64.b64decode(v).decode() for k, v in (obj.get("data") or {}).items()}
    data.update(obj.get("stringData") or {})
    return data


def service_dns_names(name: str, namespace: str) -> list[str]:
    """Every name a pod's resolver would find a Service under (search domains included)."""
    return [f"{name}.{namespace}.svc.cluster.local", f"{name}.{namespace}.svc", f"{name}.{namespace}", name]


def read_fleet(directory: str) -> RenderedFleet:
    """The keep-client pods of the manifests under ``directory`` (renderYamlToDirectory's)."""
    files = sorted(glob.glob(os.path.join(directory, MANIFEST_DIR, "*.yaml")))
    if not files:
        raise FleetInputError(
            f"{os.path.join(directory, MANIFEST_DIR)}: no rendered manifests (run `make local` first; it renders them there)"
        )
    objects = [(path, _load(path)) for path in files]
    config_maps: dict[str, dict] = {}
    secrets: dict[str, dict] = {}
    hosts: list[str] = []
    deployments = []
    for _path, obj in objects:
        meta = obj.get("metadata") or {}
        key = (str(meta.get("namespace") or "default"), str(meta.get("name")))
        if obj["kind"] == "ConfigMap":
            config_maps.setdefault(key[0], {})[key[1]] = dict(obj.get("data") or {})
        elif obj["kind"] == "Secret":
            secrets.setdefault(key[0], {})[key[1]] = _secret_data(obj)
        elif obj["kind"] == "Service":
            hosts += service_dns_names(key[1], key[0])
        elif obj["kind"] == "Deployment" and (meta.get("labels") or {}).get(CLIENT_LABEL[0]) == CLIENT_LABEL[1]:
            deployments.append(obj)
    pods = []
    for obj in deployments:
        meta = obj["metadata"]
        namespace = meta.get("namespace") or "default"
        template = obj["spec"]["template"]
        role = (meta.get("labels") or {}).get(ROLE_LABEL, "")
        if role not in ROLE_ORDER:
            raise FleetInputError(f"Deployment {namespace}/{meta['name']}: label {ROLE_LABEL} is {role!r} (expected one of {ROLE_ORDER})")
        pods.append(
            Pod(
                name=meta["name"],
                namespace=namespace,
                role=role,
                spec=template["spec"],
                annotations=dict((template.get("metadata") or {}).get("annotations") or {}),
                config_maps=config_maps.get(namespace, {}),
                secrets=secrets.get(namespace, {}),
            )
        )
    if not pods:
        raise FleetInputError(f"{os.path.join(directory, MANIFEST_DIR)}: no keep-client Deployment among {len(files)} manifests")
    pods.sort(key=lambda p: (ROLE_ORDER.index(p.role), p.name))
    return RenderedFleet(directory=directory, pods=tuple(pods), service_hosts=tuple(hosts), files=tuple(files))


def volume_sources(pod: Pod) -> dict[str, dict[str, Any]]:
    """The pod's volumes by name, as rendered."""
    return {v["name"]: v for v in pod.spec.get("volumes") or []}
