"""Kubernetes objects of an offline run, written as the Kubernetes provider's
``renderYamlToDirectory`` writes them (what `make local` gets from the real engine): the same file
for the same object, byte for byte (tests/test_engine_offline_agreement.py holds the two to it).

The provider (pulumi-kubernetes 4.25) writes each object to ``<dir>/1-manifest/<file>``
(CustomResourceDefinitions to ``0-crd/``, none here), named ``<apiVersion with / as _>-<kind in
lower case>-<namespace, or "default">-<name>.yaml``, serialized by go-yaml: keys sorted, sequences
not indented under their key, a string that would read back as another type in double quotes, a
string of several lines as a literal block, long plain strings folded at 80 columns.  A Secret's
``stringData`` is written as ``data`` (base64), as the API server would store it; those files are
the only place a secret value is written, with mode 0600.

Numbers come back from the engine's wire format (protobuf Struct) as floats: integral ones are ints
again (``replicas: 1``); no Kubernetes field we write is a float.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Iterable

import yaml

KUBERNETES_PREFIX = "kubernetes:"
MANIFEST_DIR = "1-manifest"


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
    return obj


def kubernetes_objects(resources: Iterable) -> list:
    """Every Kubernetes object among a run's captured resources."""
    return [kubernetes_object(r.inputs) for r in resources if r.type.startswith(KUBERNETES_PREFIX)]


class _GoYamlDumper(yaml.SafeDumper):
    """PyYAML set to write what go-yaml (sigs.k8s.io/yaml) writes for the same value."""


def _represent_str(dumper: yaml.SafeDumper, text: str):
    if "\n" in text:
        return dumper.represent_scalar("tag:yaml.org,2002:str", text, style="|")
    # go-yaml double-quotes a string that would resolve to another type (a number, a bool, null).
    if dumper.resolve(yaml.ScalarNode, text, (True, False)) != "tag:yaml.org,2002:str":
        return dumper.represent_scalar("tag:yaml.org,2002:str", text, style='"')
    return dumper.represent_scalar("tag:yaml.org,2002:str", text)


_GoYamlDumper.add_representer(str, _represent_str)


def manifest_text(obj: dict) -> str:
    return yaml.dump(obj, Dumper=_GoYamlDumper, sort_keys=True, default_flow_style=False, width=80, allow_unicode=True)


def manifest_name(obj: dict) -> str:
    meta = obj.get("metadata") or {}
    api = str(obj.get("apiVersion", "")).replace("/", "_")
    return f"{api}-{str(obj.get('kind', '')).lower()}-{meta.get('namespace') or 'default'}-{meta.get('name')}.yaml"


def write_manifests(resources: Iterable, out_dir: str) -> list:
    """Write each Kubernetes object under ``out_dir/1-manifest``; returns the paths written.  A
    rewrite removes the files of objects no longer declared (as the provider deletes them)."""
    target = os.path.join(out_dir, MANIFEST_DIR)
    os.makedirs(target, exist_ok=True)
    objects = {manifest_name(o): o for o in kubernetes_objects(resources)}
    for old in os.listdir(target):
        if old.endswith(".yaml") and old not in objects:
            os.remove(os.path.join(target, old))
    paths = []
    for name, obj in sorted(objects.items()):
        path = os.path.join(target, name)
        mode = 0o600 if obj.get("kind") == "Secret" else 0o644
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
        with os.fdopen(fd, "w") as f:
            f.write(manifest_text(obj))
        os.chmod(path, mode)  # O_CREAT's mode is masked by the umask; this is not
        paths.append(path)
    return paths
