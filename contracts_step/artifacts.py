"""Contract artifacts: load Truffle, Hardhat and Foundry JSON, find library placeholders, link.

A placeholder is the 40 hex characters where a library address goes.  Two styles exist:
``__$<34 hex>$__`` (solc >= 0.5: the hex is keccak256 of the library's fully qualified name) and
``__LibName_____…`` (solc < 0.5 / Truffle 4: the name padded with underscores).  Hardhat and Foundry
artifacts say which library each placeholder is (``linkReferences``); Truffle artifacts do not, so
we identify it from the artifact's recorded ``networks.<id>.links`` (placeholder -> library address)
and the library artifact that records that address, or from the hash of ``sourcePath:contractName``.
"""

from __future__ import annotations

import collections
import hashlib
import json
import os
from dataclasses import dataclass, field

from eth_utils import keccak

from chain.errors import ArtifactError, UnlinkedLibrary

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
    source_path: str | None = None
    # placeholder -> library name, as far as the artifact itself says
    link_names: dict[str, str] = field(default_factory=dict)
    # library name -> the address a deployment file had linked in (hardhat-deploy), now a placeholder again
    baked_libraries: dict[str, str] = field(default_factory=dict)

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

    def function_abi(self, name: str, arity: int | None = None) -> dict:
        candidates = [
            i
            for i in self.abi
            if i.get("type") == "function" and i.get("name") == name and (arity is None or len(i.get("inputs", [])) == arity)
        ]
        if not candidates:
            raise ArtifactError(
                f"artifact {self.name}: no function {name}"
                + (f" with {arity} arguments" if arity is not None else "")
                + f" in its ABI ({self.path})"
            )
        return candidates[0]


def _names_from_link_references(refs: dict | None, code: str) -> dict[str, str]:
    names: dict[str, str] = {}
    for _source, libs in (refs or {}).items():
        for lib, positions in libs.items():
            for pos in positions:
                start = 2 * int(pos["start"])
                names[code[start : start + 2 * int(pos["length"])]] = lib
    return names


def _compilation_target(metadata: dict) -> tuple:
    """(source path, contract name) the compiler's metadata names, or (None, None)."""
    target = (metadata.get("settings") or {}).get("compilationTarget") or {}
    return next(iter(target.items())) if target else (None, None)


def _unlink(code: str, address: str, placeholder: str) -> str:
    """``code`` with every PUSH20 of ``address`` (how solc's linker embeds a library) a placeholder again."""
    needle = "73" + _strip0x(address).lower()
    at = code.find(needle)
    while at != -1:
        if at % 2 == 0:  # a byte boundary, not the middle of other bytes
            code = code[: at + 2] + placeholder + code[at + 2 + PLACEHOLDER_LEN :]
        at = code.find(needle, at + 2)
    return code


def _deployment_artifact(path: str, data: dict) -> Artifact:
    """A hardhat-deploy deployment file (``deployments/<network>/<Name>.json``): its creation code is
    linked to the libraries of the network it was made for (named in ``libraries``), its runtime
    code may be linked too or still hold placeholders.  Each baked-in library address becomes a
    placeholder again, the same one in both codes (solc's, where the metadata's sources give the
    library's fully-qualified name), so the plan links this chain's library in its place."""
    metadata = data.get("metadata")
    if isinstance(metadata, str):
        try:
            metadata = json.loads(metadata)
        except ValueError:
            metadata = None
    metadata = metadata if isinstance(metadata, dict) else {}
    source, name = _compilation_target(metadata)
    name = name or data.get("contractName") or os.path.splitext(os.path.basename(path))[0]
    sources = list(metadata.get("sources") or {})
    code = _strip0x(data["bytecode"]).lower()
    deployed = _strip0x(data.get("deployedBytecode") or "").lower()
    libraries = data.get("libraries") or {}
    if not isinstance(libraries, dict):
        raise ArtifactError(f"artifact {path}: 'libraries' is not a map of library name -> address")
    link_names: dict[str, str] = {}
    baked: dict[str, str] = {}
    for key, address in libraries.items():
        lib = key.rpartition(":")[2]
        if not isinstance(address, str) or len(_strip0x(address)) != 40:
            raise ArtifactError(f"artifact {path}: library {key} has address {address!r} (expected 0x + 40 hex digits)")
        qualified = [key] if ":" in key else [f"{src}:{lib}" for src in sources]
        # solc's placeholder where the runtime code still holds it or only one source can hold the
        # library; else one of our own (any 40 characters the code does not hold would do).
        known = [placeholder_for_name(q) for q in qualified if placeholder_for_name(q) in deployed] or (
            [placeholder_for_name(qualified[0])] if len(qualified) == 1 else []
        )
        placeholder = known[0] if known else placeholder_for_name(key)
        code, deployed = _unlink(code, address, placeholder), _unlink(deployed, address, placeholder)
        link_names[placeholder] = lib
        baked[lib] = address
    return Artifact(
        name=name,
        path=path,
        format="hardhat-deploy",
        abi=data["abi"],
        bytecode=code,
        deployed_bytecode=deployed,
        source_path=source,
        link_names=link_names,
        baked_libraries=baked,
    )


def is_deployment_file(data: dict) -> bool:
    """hardhat-deploy's record of a deployment (an address and how it got there), not a compiler artifact."""
    return (
        isinstance(data.get("bytecode"), str)
        and "address" in data
        and bool({"receipt", "transactionHash", "libraries", "numDeployments"} & set(data))
    )


def parse_artifact(path: str, data: dict) -> Artifact:
    """Recognise the artifact's format from its keys and normalise it."""
    if not isinstance(data, dict) or "abi" not in data:
        raise ArtifactError(f"artifact {path}: no 'abi' key (expected a Truffle, Hardhat or Foundry artifact)")
    if is_deployment_file(data):
        return _deployment_artifact(path, data)
    if isinstance(data.get("bytecode"), dict):  # Foundry: out/<File>.sol/<Name>.json
        code = _strip0x(data["bytecode"].get("object", ""))
        deployed = _strip0x((data.get("deployedBytecode") or {}).get("object", ""))
        source, name = _compilation_target(data.get("metadata") or {})
        return Artifact(
            name=name or os.path.splitext(os.path.basename(path))[0],
            path=path,
            format="foundry",
            abi=data["abi"],
            bytecode=code,
            deployed_bytecode=deployed,
            source_path=source,
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
            # Truffle writes its deployments here whatever else the file holds (keep-core's
            # published artifacts carry linkReferences too): the record `pulumi import` reads.
            networks=data.get("networks") or {},
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


# Folders of a package that hold no artifacts of their own: compiler inputs and caches, dependencies.
SKIPPED_FOLDERS = ("build-info", "cache", "node_modules", "solcInputs")


class ArtifactStore:
    """The artifacts under one directory (a build folder or a whole package).

    An artifact is named by its contract name (the file's name) where only one file has it; by
    its fully-qualified name, ``<source path>:<contract>`` as Hardhat spells it
    (``contracts/Foo.sol:Foo``); or by its path relative to the directory
    (``contracts/Foo.sol/Foo.json``, ``deployments/mainnet/Foo.json``).  A contract name that
    several files carry (a package with mocks or interfaces of the same name, Foundry's
    ``out/A.sol/X.json`` and ``out/B.sol/X.json``) is an error listing the exact spellings.
    """

    def __init__(self, directory: str):
        self.directory = directory
        if not os.path.isdir(directory):
            raise ArtifactError(f"artifacts directory {directory}: not found (run `make setup` to fetch the artifacts)")
        self._paths: dict[str, list] = {}  # file name without .json -> paths relative to the directory
        # Walked top-down, pruned and sorted in place (sorting the walk itself would read it all
        # before any pruning: Hardhat's build-info and cache would be indexed as artifacts).
        for root, dirs, files in os.walk(directory):
            dirs[:] = sorted(d for d in dirs if d not in SKIPPED_FOLDERS)
            for fn in sorted(files):
                if fn.endswith(".json") and not fn.endswith(".dbg.json"):
                    rel = os.path.relpath(os.path.join(root, fn), directory)
                    self._paths.setdefault(fn[: -len(".json")], []).append(rel)
        self._loaded: dict[str, Artifact] = {}
        self._by_hash: dict[str, str] | None = None

    def names(self) -> list[str]:
        return sorted(self._paths)

    def _all(self) -> list:
        return [rel for rels in self._paths.values() for rel in rels]

    def _load(self, rel: str) -> Artifact:
        if rel not in self._loaded:
            self._loaded[rel] = load_artifact(os.path.join(self.directory, rel))
        return self._loaded[rel]

    def _try_load(self, rel: str) -> Artifact | None:
        try:
            return self._load(rel)
        except ArtifactError:
            return None

    def get(self, spec: str) -> Artifact:
        """The artifact ``spec`` names: a contract name, a fully-qualified name or a relative path."""
        if spec.endswith(".json"):
            return self._by_path(spec)
        if ":" in spec:
            return self._by_qualified_name(spec)
        rels = self._paths.get(spec, [])
        if not rels:
            raise ArtifactError(f"artifact {spec}: no {spec}.json under {self.directory} (expected a Truffle, Hardhat or Foundry artifact)")
        if len(rels) > 1:
            raise self._ambiguous(spec, spec, rels)
        return self._load(rels[0])

    def _by_path(self, spec: str) -> Artifact:
        rel = os.path.normpath(spec)
        if os.path.isabs(rel) or rel.startswith(".."):
            raise ArtifactError(f"artifact {spec}: expected a path relative to {self.directory}")
        if rel not in self._paths.get(os.path.basename(rel)[: -len(".json")], []):
            raise ArtifactError(f"artifact {spec}: no such file under {self.directory} (expected a path relative to it)")
        return self._load(rel)

    def _by_qualified_name(self, spec: str) -> Artifact:
        source, _, name = spec.rpartition(":")
        rels = self._paths.get(name, [])
        # Truffle records the absolute path it compiled: contracts/Foo.sol matches /…/contracts/Foo.sol.
        matches = [r for r in rels if _same_source(getattr(self._try_load(r), "source_path", None), source)]
        if len(matches) == 1:
            return self._load(matches[0])
        if len(matches) > 1:
            raise self._ambiguous(spec, name, matches)
        known = f"; the {name} artifacts there are: {self._spellings(name, rels)}" if rels else f" (no {name}.json there at all)"
        raise ArtifactError(f"artifact {spec}: no artifact of {name} compiled from {source} under {self.directory}{known}")

    def _spellings(self, name: str, rels: list) -> str:
        """Each of ``rels`` as the plan may name it: its fully-qualified name where that is unique
        among them, and its path."""
        sources = {rel: getattr(self._try_load(rel), "source_path", None) for rel in rels}
        counts = collections.Counter(sources.values())
        return "; ".join(f"{sources[rel]}:{name} or {rel}" if sources[rel] and counts[sources[rel]] == 1 else rel for rel in rels)

    def _ambiguous(self, spec: str, name: str, rels: list) -> ArtifactError:
        return ArtifactError(
            f"artifact {spec}: {len(rels)} artifacts of {name} under {self.directory} (expected one: name it by "
            f'fully-qualified name or path, e.g. as a deploy\'s "artifact": {self._spellings(name, rels)})'
        )

    def _placeholder_hash_index(self) -> dict[str, str]:
        if self._by_hash is None:
            self._by_hash = {}
            for rel in self._all():
                art = self._try_load(rel)
                if art is not None and art.source_path:
                    self._by_hash[placeholder_for_name(f"{art.source_path}:{art.name}")] = art.name
        return self._by_hash

    def _library_by_network_address(self, network: str, address: str) -> str | None:
        for rel in self._all():
            art = self._try_load(rel)
            if art is None:
                continue
            rec = (art.networks or {}).get(network) or {}
            if str(rec.get("address", "")).lower() == address.lower():
                return art.name
        return None

    def library_names(self, art: Artifact) -> dict[str, str | None]:
        """placeholder -> library name for every placeholder in ``art``; None where unknown."""
        out: dict[str, str | None] = {}
        for ph in art.placeholders:
            lib = art.link_names.get(ph)
            if lib is None and not ph.startswith("__$"):
                # Truffle 4 style: the (possibly truncated, possibly path-qualified) name itself.
                stem = ph.strip("_").split(":")[-1]
                exact = [n for n in self._paths if n == stem]
                prefix = [n for n in self._paths if n.startswith(stem)]
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


def _same_source(recorded: str | None, asked: str) -> bool:
    if not recorded:
        return False
    recorded, asked = recorded.replace("\\", "/"), asked.replace("\\", "/")
    return recorded == asked or (recorded.startswith("/") and recorded.endswith("/" + asked.lstrip("/")))


def link_bytecode(art: Artifact, libraries: dict[str, str], library_names: dict[str, str | None], runtime: bool = False) -> str:
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
