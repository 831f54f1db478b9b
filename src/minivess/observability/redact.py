"""Redaction for traces: secrets masked, tensors summarised, long values cut, before any exporter sees them."""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import functools
import json
import math
import os
import re
import threading
from collections.abc import Iterable, Mapping, Sequence
from pathlib import PurePath
from typing import Any

from pydantic import BaseModel, SecretBytes, SecretStr

MASK = "[REDACTED]"
MAX_STRING = 4000  # characters kept of one string value
MAX_ITEMS = 200  # items kept of one list or mapping
MAX_DEPTH = 12  # nesting kept; deeper values become a marker
SMALL_ARRAY = 16  # numpy arrays up to this many elements are kept as lists; tensors are always summarised
_MIN_LITERAL = 6  # known secret values shorter than this are not searched for (too many false hits)

# Key names whose values are secrets. "token" only at the end, so prompt_tokens / max_tokens stay visible.
_SECRET_KEY = re.compile(
    r"api[_-]?key|apikey|secret|passw(?:or)?d|authorization|credential|private[_-]?key|access[_-]?key|cookie"
    r"|(?:^|[_\-.])(?:auth|pwd)$|token$",
    re.IGNORECASE,
)

# Values that look like credentials wherever they appear in text. \b keeps "task-…" from matching "sk-…".
_TOKEN = re.compile(
    r"\bsk-[A-Za-z0-9_\-]{16,}"  # OpenAI / Anthropic (sk-ant-…) / Langfuse secret (sk-lf-…)
    r"|\bpk-lf-[A-Za-z0-9_\-]{8,}"  # Langfuse public key
    r"|\b(?i:bearer|basic)\s+(?=[A-Za-z0-9\-._~+/]*\d)[A-Za-z0-9\-._~+/]{12,}=*"  # Authorization header values
    r"|\bgh[pousr]_[A-Za-z0-9]{20,}|\bgithub_pat_[A-Za-z0-9_]{20,}"  # GitHub
    r"|\bhf_[A-Za-z0-9]{20,}"  # Hugging Face
    r"|\bAKIA[0-9A-Z]{16}\b"  # AWS access key id
    r"|\bAIza[0-9A-Za-z\-_]{35}"  # Google API key
    r"|\bxox[abprs]-[A-Za-z0-9\-]{10,}"  # Slack
    r"|\beyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}"  # JWT
)

# `api_key=…`, `"password": "…"`, also inside JSON text (escaped quotes): mask the value, keep the key.
_ASSIGNMENT = re.compile(
    r"(?i)\b([A-Za-z0-9_\-]*(?:api[_-]?key|apikey|secret|passw(?:or)?d|token|authorization|credential"
    r"|private[_-]?key|access[_-]?key)(?:\\?[\"'])?\s*[:=]\s*(?:\\?[\"'])?)"
    r"(?!\[REDACTED\])([^\s\"'\\,;&}\]]{3,})"
)

# Cheap substring tests (on the lower-cased text) that decide whether the patterns above need to run.
_TOKEN_HINTS = ("sk-", "pk-lf-", "bearer", "basic", "ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_", "hf_",
                "akia", "aiza", "xox", "eyj")  # fmt: skip
_ASSIGNMENT_HINTS = ("key", "secret", "passw", "token", "authorization", "credential")

# Credentials inside URLs: scheme://user:password@host → scheme://user:[REDACTED]@host
_URL_CREDENTIALS = re.compile(r"(://[^/\s:@]+:)([^@\s/]+)(@)")

# Binary payloads (images as data URIs, base64 blobs) are described, never kept.
_DATA_URI = re.compile(r"data:([\w.+\-]+/[\w.+\-]+)?(?:;[\w=\-]+)*;base64,")
_BASE64_BLOB = re.compile(r"[A-Za-z0-9+/=\s]+")
_BLOB_MIN = 256
_CACHE_SIZE = 4096  # distinct strings whose masked form is remembered
_CACHE_MAX_CHARS = 64_000  # longer strings are masked every time (not worth keeping)
_ITEM_CACHE_CHARS = 4_000_000  # characters (keys + encoded forms) of the encoded list items remembered


# Shell variables whose names look secret ("pwd" ~ password) but hold the working directory.
_ENV_NOT_SECRET = frozenset({"PWD", "OLDPWD"})


@functools.lru_cache(maxsize=4096)
def is_secret_key(name: str) -> bool:
    """Whether a mapping key or variable name names a secret (api_key, token, password, authorization …).

    Args:
        name: The key or variable name.

    Returns:
        True when values under this name must be masked.
    """
    return bool(_SECRET_KEY.search(name))


class Redactor:
    """Masks secrets and makes any value small and JSON-safe for a trace.

    Args:
        secrets: Exact secret values to mask wherever they appear inside strings.
    """

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        literals = {s for s in secrets if s and len(s) >= _MIN_LITERAL}
        self._literals = tuple(sorted(literals, key=len, reverse=True))
        # A chat thread sends the same earlier messages with every LLM call: mask each distinct string once.
        self._masked = functools.lru_cache(maxsize=_CACHE_SIZE)(self._mask)
        self._items = _TextCache(_ITEM_CACHE_CHARS)
        self._key_name = functools.lru_cache(maxsize=_CACHE_SIZE)(self._name)

    @classmethod
    def from_settings(cls, settings: BaseModel | None = None) -> Redactor:
        """A redactor that also knows the settings' secret values and secret-looking environment variables.

        Args:
            settings: The effective settings; every `SecretStr` field's value is masked inside strings.

        Returns:
            The redactor.
        """
        values: list[str] = []
        if settings is not None:
            for _, value in settings:
                if isinstance(value, SecretStr):
                    values.append(value.get_secret_value())
        values.extend(v for k, v in os.environ.items() if k not in _ENV_NOT_SECRET and is_secret_key(k) and len(v) >= 8)
        return cls(values)

    @property
    def literal_count(self) -> int:
        """How many exact secret values this redactor searches for."""
        return len(self._literals)

    def known(self, text: str) -> str:
        """Mask the known secret values (settings, environment) in one string — cheap, for the hot path."""
        for literal in self._literals:
            if literal in text:
                text = text.replace(literal, MASK)
        return text

    def text(self, text: str) -> str:
        """Mask known secret values and credential-looking substrings in one string (no truncation).

        The patterns run only when a cheap substring hint is present; results are cached per distinct string.

        Args:
            text: Any string.

        Returns:
            The string with every secret replaced by ``[REDACTED]``.
        """
        return self._masked(text) if len(text) <= _CACHE_MAX_CHARS else self._mask(text)

    def _mask(self, text: str) -> str:
        text = self.known(text)
        if len(text) < 8:
            return text
        low = text.lower()
        if any(hint in low for hint in _TOKEN_HINTS):
            text = _TOKEN.sub(MASK, text)
        if any(hint in low for hint in _ASSIGNMENT_HINTS):
            text = _ASSIGNMENT.sub(lambda m: m.group(1) + MASK, text)
        if "://" in text:
            text = _URL_CREDENTIALS.sub(lambda m: m.group(1) + MASK + m.group(3), text)
        return text

    def string(self, text: str, limit: int = MAX_STRING) -> str:
        """Describe blobs, mask every secret (known values and credential patterns), then truncate (with a marker).

        Masking comes before truncation, so a secret cut at the limit cannot leave a readable prefix behind.

        Args:
            text: Any string.
            limit: Characters kept.

        Returns:
            The bounded, masked string.
        """
        if len(text) >= _BLOB_MIN and (blob := _describe_blob(text)):
            return blob
        text = self.text(text)
        if len(text) > limit:
            text = f"{text[:limit]}…[truncated {len(text) - limit} chars]"
        return text

    def payload(self, obj: Any) -> Any:
        """`value(obj)` as the text Langfuse stores: None, a string as it is, anything else its JSON text.

        The Langfuse SDK keeps a string as it is and otherwise re-walks the value in Python (`EventSerializer`) to
        encode the same JSON, so the C encoder's text (identical bytes for `value` output, which is JSON-safe) is
        handed over instead. A list of mappings — a chat's message history, sent again with every LLM call and
        growing by a message or two — is encoded item by item, and each item's encoded form is remembered under an
        exact key of its content (`_item_key`): an earlier message is neither walked nor masked nor encoded again.
        The text is always the same as ``json.dumps(value(obj))``.

        Args:
            obj: Anything a call site wants to trace.

        Returns:
            None, a (masked, bounded) string, or the JSON text of `value(obj)`.
        """
        if type(obj) in (list, tuple) and obj and all(type(item) is dict for item in obj):
            return self._encode_items(obj)
        value = self.value(obj)
        return value if value is None or isinstance(value, str) else json.dumps(value)

    def _encode_items(self, items: Sequence[dict[Any, Any]]) -> str:
        """``json.dumps(value(items))`` for a list of dicts, from the remembered encodings of its items."""
        parts: list[str] = []
        for item in items[:MAX_ITEMS]:
            key = _item_key(item)
            part = None if key is None else self._items.get(key)
            if part is None:
                part = json.dumps(self.value(item, 1))  # what `_sequence` makes of the item
                if key is not None:
                    self._items.put(key, part)
            parts.append(part)
        if len(items) > MAX_ITEMS:
            parts.append(json.dumps(f"… {len(items) - MAX_ITEMS} more items"))
        return "[" + ", ".join(parts) + "]"

    def value(self, obj: Any, _depth: int = 0) -> Any:
        """Turn any value into a masked, bounded, JSON-safe structure.

        Mappings keep their keys (values under secret-looking keys are masked); pydantic models are dumped;
        tensors and large arrays become a summary (type, shape, dtype, min/max/mean); other objects their repr.

        Args:
            obj: Anything a call site wants to trace.

        Returns:
            None, bool, int, float, str, list or dict — JSON-safe, every secret masked (known values, secret keys,
            value patterns such as ``sk-…``), so exporters need not scan what came through here again.
        """
        kind = type(obj)  # exact built-in types first (the common case), same results as the checks below
        if kind is str:
            return self.string(obj)
        if kind is dict or kind is list or kind is tuple:
            if _depth >= MAX_DEPTH:
                return f"<{kind.__name__} nested too deep>"
            return self._mapping(obj, _depth) if kind is dict else self._sequence(obj, _depth)
        if obj is None or isinstance(obj, bool | int):
            return obj
        if isinstance(obj, float):
            return obj if math.isfinite(obj) else repr(obj)  # NaN / inf are not JSON
        if isinstance(obj, str):
            return self.string(obj)
        if _depth >= MAX_DEPTH:
            return f"<{type(obj).__name__} nested too deep>"
        if isinstance(obj, SecretStr | SecretBytes):
            return MASK
        if isinstance(obj, Mapping):
            return self._mapping(obj, _depth)
        if isinstance(obj, BaseModel):
            return self._mapping(obj.model_dump(), _depth)
        if isinstance(obj, list | tuple | set | frozenset):
            return self._sequence(obj, _depth)
        if _is_array(obj):
            return self._array(obj, _depth)
        return self._scalar(obj, _depth)

    def _mapping(self, obj: Mapping[Any, Any], depth: int) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for index, (key, item) in enumerate(obj.items()):
            if index >= MAX_ITEMS:
                out["…"] = f"{len(obj) - MAX_ITEMS} more keys"
                break
            if type(key) is str:
                name, secret = self._key_name(key)
            else:
                name = self.string(str(key), 200)
                secret = is_secret_key(name)
            out[name] = MASK if item is not None and secret else self.value(item, depth + 1)
        return out

    def _name(self, key: str) -> tuple[str, bool]:
        """A mapping key as traced (masked, at most 200 characters) and whether its value is a secret."""
        name = self.string(key, 200)
        return name, is_secret_key(name)

    def _sequence(self, obj: Iterable[Any], depth: int) -> list[Any]:
        items = obj if type(obj) is list else list(obj)
        out = [self.value(item, depth + 1) for item in items[:MAX_ITEMS]]
        if len(items) > MAX_ITEMS:
            out.append(f"… {len(items) - MAX_ITEMS} more items")
        return out

    def _array(self, obj: Any, depth: int) -> Any:
        size = _size(obj)
        if not _is_tensor(obj) and size is not None and size <= SMALL_ARRAY and hasattr(obj, "tolist"):
            return self.value(obj.tolist(), depth + 1)
        return summarise_array(obj)

    def _scalar(self, obj: Any, depth: int) -> Any:
        if isinstance(obj, bytes | bytearray | memoryview):
            return f"<{len(obj)} bytes>"
        if isinstance(obj, dt.datetime | dt.date | dt.time):
            return obj.isoformat()
        if isinstance(obj, enum.Enum):
            return self.value(obj.value, depth + 1)
        if isinstance(obj, PurePath):
            return self.string(str(obj))
        if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
            fields = {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)}
            return self._mapping(fields, depth)
        item = getattr(obj, "item", None)
        if callable(item) and getattr(obj, "shape", None) == ():  # numpy / torch scalar
            return self.value(item(), depth + 1)
        return self.string(repr(obj), 500)


_DICT, _LIST = object(), object()  # tags of frozen containers (never equal to anything else)
_NONE = (None, None)  # a frozen None (None itself means "no key")


def _item_key(item: dict[Any, Any]) -> Any:
    """An exact, hashable key of an item's content; None if it cannot have one.

    Equal keys mean equal `Redactor.value` results. A mapping of exact strings (the usual chat message) is keyed by
    its (key, value) pairs, which hash cheaply (a string caches its hash); other plain JSON data is frozen into
    tagged tuples (`_freeze`). Anything else — subclasses, non-str keys (``True`` and ``"True"`` mask alike but
    differ), other objects, nesting deeper than `MAX_DEPTH` (whose marker names list or tuple) — is not keyed.
    """
    pairs = tuple(item.items())
    for k, v in pairs:
        if type(k) is not str or (type(v) is not str and v is not None):
            return _freeze(item, 1)
    return pairs


def _freeze(obj: Any, depth: int) -> Any:
    """`obj` as nested tagged tuples, strings kept as they are; None if it is not plain JSON data."""
    kind = type(obj)
    if kind is str:
        return obj
    if obj is None:
        return _NONE
    if kind is int or kind is bool:
        return kind, obj  # tagged: 1, 1.0 and True are equal in Python but not as traced
    if kind is float:
        return kind, repr(obj)  # by repr: -0.0 == 0.0, and NaN is never equal to itself
    if depth >= MAX_DEPTH:
        return None
    frozen: list[Any]
    if kind is dict:
        frozen = [_DICT]
        for k, v in obj.items():
            value = v if type(v) is str else _freeze(v, depth + 1)
            if value is None or type(k) is not str:
                return None
            frozen.append(k)
            frozen.append(value)
        return tuple(frozen)
    if kind is list or kind is tuple:
        frozen = [_LIST]
        for v in obj:
            value = v if type(v) is str else _freeze(v, depth + 1)
            if value is None:
                return None
            frozen.append(value)
        return tuple(frozen)
    return None


def _chars(key: Any) -> int:
    """Characters a frozen key holds (what remembering it costs)."""
    if isinstance(key, str):
        return len(key)
    if isinstance(key, tuple):
        return sum(_chars(part) for part in key)
    return 8


class _TextCache:
    """A thread-safe map of encoded items, bounded by the characters it holds (keys and values); oldest out first."""

    def __init__(self, max_chars: int) -> None:
        self._max_chars = max_chars
        self._chars = 0
        self._data: dict[Any, tuple[str, int]] = {}
        self._lock = threading.Lock()

    def get(self, key: Any) -> str | None:
        entry = self._data.get(key)  # atomic under the GIL
        return None if entry is None else entry[0]

    def put(self, key: Any, value: str) -> None:
        size = _chars(key) + len(value)
        if size > self._max_chars // 16:  # one huge item would push everything else out
            return
        with self._lock:
            old = self._data.pop(key, None)
            if old is not None:
                self._chars -= old[1]
            self._data[key] = (value, size)
            self._chars += size
            while self._chars > self._max_chars:
                oldest = next(iter(self._data))
                self._chars -= self._data.pop(oldest)[1]


def _describe_blob(text: str) -> str | None:
    """A short description of a data URI or a base64 blob; None for ordinary text."""
    if text.startswith("data:") and (match := _DATA_URI.match(text)):
        return f"<{match.group(1) or 'binary'} data URI, {len(text)} chars>"
    if " " not in text[:_BLOB_MIN] and _BASE64_BLOB.fullmatch(text):
        return f"<base64 data, {len(text)} chars>"
    return None


def _is_array(obj: Any) -> bool:
    return hasattr(obj, "shape") and hasattr(obj, "dtype") and not isinstance(obj, type)


def _is_tensor(obj: Any) -> bool:
    return type(obj).__module__.split(".", 1)[0] == "torch"


def _size(obj: Any) -> int | None:
    size = getattr(obj, "size", None)
    if callable(size):  # torch: .size() is the shape
        numel = getattr(obj, "numel", None)
        return int(numel()) if callable(numel) else None
    return int(size) if isinstance(size, int) else None


def summarise_array(obj: Any) -> dict[str, Any]:
    """A tensor or array as its type, shape, dtype and (when numeric and non-empty) min, max and mean.

    Args:
        obj: A numpy array, torch tensor or anything with ``shape`` and ``dtype``.

    Returns:
        The summary; the data itself is never included.
    """
    summary: dict[str, Any] = {
        "type": type(obj).__name__,
        "shape": [int(d) for d in obj.shape],
        "dtype": str(obj.dtype),
    }
    if not _size(obj):
        return summary
    data = obj.detach() if hasattr(obj, "detach") else obj
    try:
        values = data.float() if _is_tensor(data) else data  # torch cannot average integer tensors
        summary.update(min=float(values.min()), max=float(values.max()), mean=float(values.mean()))
    except (TypeError, ValueError, RuntimeError, AttributeError):
        pass  # non-numeric dtype (strings, objects): shape and dtype are all we can say
    return summary
