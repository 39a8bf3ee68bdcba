"""What every settings model shares: the base model, and how pydantic's refusal becomes one line.

A section model describes each field's expected value in ``Field(description=...)``; a refusal
pydantic finds on its own (missing, wrong type, out of range, unknown key) is phrased from that
description, and a validator refuses with ``refuse(reason)`` when a rule needs its own words.
Either way the user sees one ``ConfigError``: ``config keep-cd:<key path>: <reason>``, never
pydantic's multi-line report.
"""

from __future__ import annotations

import difflib
import types
import typing
from collections.abc import Iterable
from typing import Any, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, ValidationError
from pydantic.alias_generators import to_camel
from pydantic.fields import FieldInfo
from pydantic_core import ErrorDetails, PydanticCustomError

from chain.errors import ConfigError

PROJECT = "keep-cd"
REFUSED = "keep_cd_refused"

Model = TypeVar("Model", bound=BaseModel)


class Section(BaseModel):
    """A config map: camelCase keys in the stack file, snake_case attributes here; no unknown key,
    no coercion between types (a quoted number is not a number unless a field says so)."""

    model_config = ConfigDict(alias_generator=to_camel, extra="forbid", strict=True, frozen=True)


def refuse(reason: str, *at: str | int) -> PydanticCustomError:
    """A refusal in the section's own words, for the field being validated (or ``at`` below it)."""
    return PydanticCustomError(REFUSED, "{reason}", {"reason": reason, "at": at})


def one_of(allowed: tuple, what: str) -> AfterValidator:
    """A field whose value must be one of ``allowed`` (a tuple defined once, where it is used)."""
    return AfterValidator(lambda value: check_one_of(value, allowed, what))


def check_one_of(value: Any, allowed: tuple, what: str) -> Any:
    if value not in allowed:
        raise refuse(f"{value!r} is not {what} (expected {' or '.join(allowed)})")
    return value


def unknown_key(key: str, known: Iterable[str], prefix: str = "") -> str:
    """The reason an unknown ``key`` is refused: the nearest known key (a typo's likely fix, compared
    without case, so chainID finds chainId), then every known key.  ``prefix`` is put before the
    suggestion (``keep-cd:`` for a top-level key, which is how `pulumi config set` names it)."""
    by_lower = {k.lower(): k for k in sorted(known)}
    nearest = difflib.get_close_matches(key.lower(), list(by_lower), n=1, cutoff=0.6)
    hint = f"did you mean {prefix}{by_lower[nearest[0]]}? " if nearest else ""
    return f"unknown key ({hint}expected one of {', '.join(sorted(known))})"


def parse_section(model: type[Model], raw: Any, key: str, context: dict | None = None) -> Model:
    """``raw`` (the stack config's value at ``key``, e.g. ``keep-cd:fleet``) as ``model``, or the
    first refusal as a one-line ConfigError naming the full key path."""
    try:
        return model.model_validate(raw, context=context)
    except ValidationError as e:
        error = e.errors(include_url=False)[0]
        at = tuple((error.get("ctx") or {}).get("at", ()))
        path = key_path(key, _aliased(model, tuple(error["loc"])) + at)
        raise ConfigError.at(path, _reason(model, error)) from None


def key_path(key: str, loc: tuple) -> str:
    """``keep-cd:fleet`` + ('clients', 2, 'port') -> ``keep-cd:fleet.clients[2].port``;
    ``keep-cd:`` + ('chainId',) -> ``keep-cd:chainId``."""
    path = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in loc)
    return key + path.removeprefix(".") if key.endswith(":") else key + path


def _reason(model: type[BaseModel], error: ErrorDetails) -> str:
    if error["type"] == REFUSED:
        return str((error.get("ctx") or {})["reason"])
    holder, field, kind = _locate(model, tuple(error["loc"]))
    if error["type"] == "extra_forbidden":
        return unknown_key(str(error["loc"][-1]), [f.alias or name for name, f in holder.model_fields.items()])
    expected = _description(kind, field)
    if error["type"] == "missing" or (isinstance(error["input"], str) and not error["input"].strip()):
        return f"not set (expected {expected})"
    sub_model = _model_of(kind)
    if sub_model is not None and error["type"] == "model_type":
        return f"expected a map with keys {_keys(sub_model)}"
    return f"{error['input']!r} is not {expected}"


def _locate(model: type[BaseModel], loc: tuple) -> tuple:
    """(model holding the field, its FieldInfo, the type at ``loc``) for an error's location."""
    holder: Any = model
    field: FieldInfo | None = None
    kind: Any = model
    for part in loc:
        if isinstance(part, int) or _model_of(kind) is None:
            kind = _item_type(kind)
            continue
        holder = _model_of(kind)
        field = next((f for name, f in holder.model_fields.items() if part in (name, f.alias)), None)
        kind = field.annotation if field is not None else None
    return holder, field, kind


def _aliased(model: type[BaseModel], loc: tuple) -> tuple:
    """``loc`` with field names as the stack file spells them (pydantic gives a default's error by name)."""
    parts = []
    for i, part in enumerate(loc):
        holder, field, _kind = _locate(model, loc[: i + 1])
        parts.append(field.alias or part if isinstance(part, str) and field is not None and part in holder.model_fields else part)
    return tuple(parts)


def _description(kind: Any, field: FieldInfo | None) -> str:
    """An item's own description (list[Annotated[str, Field(description=...)]]) or its field's."""
    for meta in typing.get_args(_unwrap(kind))[1:]:  # Annotated[type, FieldInfo, ...]
        if isinstance(meta, FieldInfo) and meta.description:
            return meta.description
    if field is not None and field.description:
        return field.description
    model = _model_of(kind)
    return f"a map with keys {_keys(model)}" if model is not None else "a valid value"


def _keys(model: Any) -> str:
    return ", ".join(sorted(f.alias or name for name, f in model.model_fields.items()))


def _unwrap(kind: Any) -> Any:
    """The type inside Optional[...] / X | None."""
    if typing.get_origin(kind) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(kind) if a is not type(None)]
        return args[0] if len(args) == 1 else kind
    return kind


def _model_of(kind: Any) -> type[BaseModel] | None:
    kind = _unwrap(kind)
    return kind if isinstance(kind, type) and issubclass(kind, BaseModel) else None


def _item_type(kind: Any) -> Any:
    """The type of a list's, tuple's or map's items."""
    args = typing.get_args(_unwrap(kind))
    return args[-1] if typing.get_origin(_unwrap(kind)) is dict else (args[0] if args else None)
