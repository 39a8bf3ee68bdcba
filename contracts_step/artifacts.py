"""Contract artifacts: load Truffle, Hardhat and Foundry JSON, find library placeholders, link.

A placeholder is the 40 hex characters where a library address goes.  Two styles exist:
``__$<34 hex>$__`` (solc >= 0.5: the hex is keccak256 of the library's fully qualified name) and
``__LibName_____…`` (solc < 0.5 / Truffle 4: the name padded with underscores).  Hardhat and Foundry
artifacts say which library each placeholder is (``linkReferences``); Truffle artifacts do not, so
we identify it from the artifact's recorded ``networks.<id>.links`` (placeholder -> library address)
and the library artifact that records that address, or from the hash of ``sourcePath:contractName``.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from typing import Optional

from eth_utils import keccak

from .errors import ArtifactError, UnlinkedLibrary

PLACEHOLDER_LEN = 40


def _strip0x(code: str) -> str:
    return code[2:] if code.startswith("0x") else code


def find_placeholders(template: str) -> list[str]:
    """Every distinct placeholder in a hex bytecode template, in order of first appearance."""
    seen: list[str] = []
    i = template.find("__")
    while i != -1:
        ph = template[i : i + PLACEHOLDER_LEN]
        if ph not in seen:
            seen.append(ph)
        i = template.find("__", i + PLACEHOLDER_LEN)
    return seen


def placeholder_for_name(fully_qualified_name: str) -> str:
    """The solc >= 0.5 placeholder of a library, from its ``path:Name``."""
    return "__$" + keccak(text=fully_qualified_name).hex()[:34] + "$__"


@dataclass
class Artifact:
    name: str
    path: str
    format: str  # truffle | hardhat | foundry
    abi: list
    bytecode: str  # hex without 0x; may hold placeholders
    deployed_bytecode: str
    networks: dict = field(default_factory=dict)
    source_path: Optional[str] = None
    # placeholder -> library name, as far as the artifact itself says
    link_names: dict[str, str] = field(default_factory=dict)

    @property
    def bytecode_hash(self) -> str:
        """Hash of the unlinked creation code: what changes when the source changes."""
        return hashlib.sha256(self.bytecode.encode()).hexdigest()

    @property
    def abi_hash(self) -> str:
        return hashlib.sha256(json.dumps(self.abi, sort_keys=True).encode()).hexdigest()

    @property
    def placeholders(self) -> list[str]:
        return find_placeholders(self.bytecode)

    def constructor_inputs(self) -> list[dict]:
        for item in self.abi:
            if item.get("type") == "constructor":
                return item.get("inputs", [])
        return []

    def function_abi(self, name: str, arity: Optional[int] = None) -> dict:
        candidates = [
            i
            for i in self.abi
            if i.get("type") == "function"
            and i.get("name") == name
            and (arity is None or len(i.get("inputs", [])) == arity)
        ]
        if not candidates:
            raise ArtifactError(
                f"artifact {self.name}: no function {name}"
                + (f" with {arity} arguments" if arity is not None else "")
                + f" in its ABI ({self.path})"
            )
        return candidates[0]


def _names_from_link_references(refs: dict, code: str) -> dict[str, str]:
    names: dict[str, str] = {}
    for _source, libs in (refs or {}).items():
        for lib, positions in libs.items():
            for pos in positions:
                start = 2 * int(pos["start"])
                names[code[start : start + 2 * int(pos["length"])]] = lib
    return names


def parse_artifact(path: str, data: dict) -> Artifact:
    """Recognise the artifact's format from its keys and normalise it."""
    if not isinstance(data, dict) or "abi" not in data:
        raise ArtifactError(f"artifact {path}: no 'abi' key (expected a Truffle, Hardhat or Foundry artifact)")
    if isinstance(data.get("bytecode"), dict):  # Foundry: out/<File>.sol/<Name>.json
        code = _strip0x(data["bytecode"].get("object", ""))
        deployed = _strip0x((data.get("deployedBytecode") or {}).get("object", ""))
        name = os.path.splitext(os.path.basename(path))[0]
        target = ((data.get("metadata") or {}).get("settings") or {}).get("compilationTarget") or {}
        if target:
            name = next(iter(target.values()))
        return Artifact(
            name=name,
            path=path,
            format="foundry",
            abi=data["abi"],
            bytecode=code,
            deployed_bytecode=deployed,
            link_names=_names_from_link_references(data["bytecode"].get("linkReferences"), code),
        )
    if not isinstance(data.get("bytecode"), str):
        raise ArtifactError(f"artifact {path}: 'bytecode' missing (expected a hex string or a Foundry bytecode object)")
    code = _strip0x(data["bytecode"])
    deployed = _strip0x(data.get("deployedBytecode") or "")
    if "linkReferences" in data or str(data.get("_format", "")).startswith("hh-"):
        return Artifact(
            name=data.get("contractName") or os.path.splitext(os.path.basename(path))[0],
            path=path,
            format="hardhat",
            abi=data["abi"],
            bytecode=code,
            deployed_bytecode=deployed,
            source_path=data.get("sourceName"),
            link_names=_names_from_link_references(data.get("linkReferences"), code),
        )
    return Artifact(
        name=data.get("contractName") or os.path.splitext(os.path.basename(path))[0],
        path=path,
        format="truffle",
        abi=data["abi"],
        bytecode=code,
        deployed_bytecode=deployed,
        networks=data.get("networks") or {},
        source_path=data.get("sourcePath") or (data.get("ast") or {}).get("absolutePath"),
    )


def load_artifact(path: str) -> Artifact:
    try:
        with open(path) as f:
            data = json.load(f)
    except FileNotFoundError:
        raise ArtifactError(f"artifact {path}: file not found") from None
    except (OSError, ValueError) as e:
        raise ArtifactError(f"artifact {path}: not readable JSON ({e.__class__.__name__}: {e})") from None
    art = parse_artifact(path, data)
    for ph in art.placeholders:
        if len(ph) != PLACEHOLDER_LEN:
            raise ArtifactError(f"artifact {path}: truncated library placeholder {ph!r} in bytecode")
    plain = art.bytecode
    for ph in art.placeholders:
        plain = plain.replace(ph, "0" * PLACEHOLDER_LEN)
    try:
        bytes.fromhex(plain)
    except ValueError:
        raise ArtifactError(f"artifact {path}: bytecode is not hex") from None
    if not art.bytecode:
        raise ArtifactError(f"artifact {path}: empty bytecode (an interface or abstract contract cannot be deployed)")
    return art


class ArtifactStore:
    """The artifacts of one build directory, indexed by contract name."""

    def __init__(self, directory: str):
        self.directory = directory
        if not os.path.isdir(directory):
            raise ArtifactError(f"artifacts directory {directory}: not found (run `make setup` to fetch the artifacts)")
        self._files: dict[str, str] = {}
        self._ambiguous: dict[str, list] = {}
        # Walked top-down, pruned and sorted in place (sorting the walk itself would read it all
        # before any pruning: Hardhat's build-info and cache would be indexed as artifacts).
        for root, dirs, files in os.walk(directory):
            dirs[:] = sorted(d for d in dirs if d not in ("build-info", "cache"))
            for fn in sorted(files):
                if fn.endswith(".json") and not fn.endswith(".dbg.json"):
                    name, path = fn[: -len(".json")], os.path.join(root, fn)
                    if name in self._files:  # Foundry: out/A.sol/X.json and out/B.sol/X.json
                        self._ambiguous.setdefault(name, [self._files[name]]).append(path)
                    self._files.setdefault(name, path)
        self._loaded: dict[str, Artifact] = {}
        self._by_hash: Optional[dict[str, str]] = None

    def names(self) -> list[str]:
        return sorted(self._files)

    def get(self, name: str) -> Artifact:
        if name in self._ambiguous:
            raise ArtifactError(
                f"artifact {name}: more than one {name}.json under {self.directory} "
                f"({', '.join(self._ambiguous[name])}); expected one (name the artifact by a unique contract name)"
            )
        if name not in self._loaded:
            path = self._files.get(name)
            if path is None:
                raise ArtifactError(
                    f"artifact {name}: no {name}.json under {self.directory} "
                    "(expected a Truffle, Hardhat or Foundry artifact)"
                )
            self._loaded[name] = load_artifact(path)
        return self._loaded[name]

    def _placeholder_hash_index(self) -> dict[str, str]:
        if self._by_hash is None:
            self._by_hash = {}
            for name in self._files:
                try:
                    art = self.get(name)
                except Exception:
                    continue
                if art.source_path:
                    self._by_hash[placeholder_for_name(f"{art.source_path}:{art.name}")] = art.name
        return self._by_hash

    def _library_by_network_address(self, network: str, address: str) -> Optional[str]:
        for name in self._files:
            try:
                art = self.get(name)
            except Exception:
                continue
            rec = (art.networks or {}).get(network) or {}
            if str(rec.get("address", "")).lower() == address.lower():
                return art.name
        return None

    def library_names(self, art: Artifact) -> dict[str, Optional[str]]:
        """placeholder -> library name for every placeholder in ``art``; None where unknown."""
        out: dict[str, Optional[str]] = {}
        for ph in art.placeholders:
            lib = art.link_names.get(ph)
            if lib is None and not ph.startswith("__$"):
                # Truffle 4 style: the (possibly truncated, possibly path-qualified) name itself.
                stem = ph.strip("_").split(":")[-1]
                exact = [n for n in self._files if n == stem]
                prefix = [n for n in self._files if n.startswith(stem)]
                lib = exact[0] if exact else (prefix[0] if len(prefix) == 1 else None)
            if lib is None:
                for network, rec in (art.networks or {}).items():
                    for key, address in ((rec or {}).get("links") or {}).items():
                        token = key.replace("\\", "")
                        token = token if token.startswith("__") else f"__{token}__"
                        if token == ph:  # solc >= 0.5: the placeholder itself -> the library's address
                            lib = self._library_by_network_address(network, address)
                        elif not ph.startswith("__$") and key == ph.strip("_"):  # Truffle 4: by name
                            lib = key
                        if lib:
                            break
                    if lib:
                        break
            if lib is None and ph.startswith("__$"):
                lib = self._placeholder_hash_index().get(ph)
            out[ph] = lib
        return out


def link_bytecode(
    art: Artifact, libraries: dict[str, str], library_names: dict[str, Optional[str]], runtime: bool = False
) -> str:
    """Replace each placeholder with its library's address; hex without 0x.  ``runtime`` links the
    deployed (runtime) code instead of the creation code.

    ``libraries`` maps library name -> address; ``library_names`` maps placeholder -> library name
    (from ``ArtifactStore.library_names`` or the plan's explicit mapping).
    """
    code = art.deployed_bytecode if runtime else art.bytecode
    for ph in find_placeholders(code):
        lib = library_names.get(ph)
        if lib is None:
            raise UnlinkedLibrary(
                f"contract {art.name}: bytecode placeholder {ph} names no known library "
                f"(expected linkReferences, networks.<id>.links, or an explicit mapping in the plan) [{art.path}]"
            )
        address = libraries.get(lib)
        if address is None:
            raise UnlinkedLibrary(
                f"contract {art.name}: library {lib} (placeholder {ph}) has no address "
                "(expected it as a library of this contract in the plan)"
            )
        code = code.replace(ph, _strip0x(address).lower())
    return code
