"""Kubernetes objects of an offline run, written as YAML: one file per object, no cluster needed.

The runner captures every Kubernetes resource's inputs (secrets unwrapped); this turns them into
the objects ``kubectl apply`` would take:
  * numbers come back from the engine's wire format (protobuf Struct) as floats: integral ones are
    ints again (``replicas: 1``, ``containerPort: 3919``); no Kubernetes field we write is a float;
  * a Secret's ``stringData`` becomes ``data`` (base64), as the API server stores it.  Those files
    are the only place a secret value is written, with mode 0600.
Files are named ``<nn>-<kind>-<namespace>-<name>.yaml`` (Namespaces first), and a rewrite removes
the YAML files of objects the program no longer declares.
"""

from __future__ import annotations

import base64
import os
from typing import Iterable

import yaml

KUBERNETES_PREFIX = "kubernetes:"
# Apply order for `kubectl apply -f <dir>`: what others refer to first.
KIND_ORDER = ("Namespace", "ConfigMap", "Secret", "PersistentVolumeClaim", "Service", "NetworkPolicy", "Deployment")


def _plain(value):
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def kubernetes_object(inputs: dict) -> dict:
    """The object as Kubernetes expects it, from a captured resource's (unwrapped) inputs."""
    obj = _plain(dict(inputs))
    if obj.get("kind") == "Secret" and "stringData" in obj:
        data = dict(obj.get("data") or {})
        for key, text in obj.pop("stringData").items():
            data[key] = base64.b64encode(text.encode()).decode()
        obj["data"] = data
    ordered = {k: obj.pop(k) for k in ("apiVersion", "kind", "metadata") if k in obj}
    ordered.update(obj)
    return ordered


def kubernetes_objects(resources: Iterable) -> list:
    """Every Kubernetes object among a run's captured resources, in apply order."""
    objects = [kubernetes_object(r.inputs) for r in resources if r.type.startswith(KUBERNETES_PREFIX)]

    def key(obj):
        kind = obj.get("kind", "")
        meta = obj.get("metadata") or {}
        rank = KIND_ORDER.index(kind) if kind in KIND_ORDER else len(KIND_ORDER)
        return rank, kind, meta.get("namespace", ""), meta.get("name", "")

    return sorted(objects, key=key)


def _file_name(i: int, obj: dict) -> str:
    meta = obj.get("metadata") or {}
    parts = [f"{i:03d}", obj.get("kind", "object").lower(), meta.get("namespace"), meta.get("name")]
    return "-".join(p for p in parts if p) + ".yaml"


def write_manifests(resources: Iterable, out_dir: str) -> list:
    """Write each Kubernetes object to ``out_dir``; returns the paths written."""
    os.makedirs(out_dir, exist_ok=True)
    for old in os.listdir(out_dir):
        if old.endswith(".yaml"):
            os.remove(os.path.join(out_dir, old))
    paths = []
    for i, obj in enumerate(kubernetes_objects(resources)):
        path = os.path.join(out_dir, _file_name(i, obj))
        mode = 0o600 if obj.get("kind") == "Secret" else 0o644
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
        with os.fdopen(fd, "w") as f:
            yaml.safe_dump(obj, f, sort_keys=True, default_flow_style=False)  # stable files between runs
        os.chmod(path, mode)  # O_CREAT's mode is masked by the umask; this is not
        paths.append(path)
    return paths
