"""Langfuse observations made on the client's own OTel tracer with the SDK's own attribute builders.

`Langfuse.start_as_current_observation` does more per observation than the span: a wrapper object per
observation type, four attribute writes (type, environment, release, the rest), a media scan of every payload
(media upload is off here: the redactor replaces binaries by summaries), a walk of the observation-type literals
with `typing.get_args` six times per span and a Python-level JSON walk of each metadata value. `start_observation`
makes the same span in one write: the same tracer (so the same instrumentation scope and public key), the same
attributes (built by the SDK's `langfuse._client.attributes` functions; plain JSON metadata encoded by the C
encoder, which gives the SDK's text), the same environment/release precedence and the same ERROR status. The
SDK's span processor still copies the trace's session, user and tags onto the span, marks app roots and exports.

Not copied: the SDK's trace-id baggage claim, which keeps a span of another instrumentation between two Langfuse
spans from making the inner one an app root; only the Langfuse tracer makes spans on our private provider, so the
processor's parent check decides the same. `tests/unit/observability/test_langfuse_spans.py` pins that our spans
equal the SDK's attribute for attribute, so an SDK upgrade that changes its spans fails there.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from langfuse._client.attributes import (
    LangfuseOtelSpanAttributes,
    _flatten_and_serialize_metadata,
    create_generation_attributes,
    create_span_attributes,
)
from langfuse._client.constants import (
    ObservationTypeGenerationLike,
    ObservationTypeSpanLike,
    get_observation_types_list,
)
from langfuse._client.span import _reserved_attribute_keys, _set_span_attributes_within_limit
from langfuse._utils.serializer import EventSerializer
from opentelemetry.trace import Span, Status, StatusCode

GENERATION_LIKE = frozenset(get_observation_types_list(ObservationTypeGenerationLike))
SPAN_LIKE = frozenset(get_observation_types_list(ObservationTypeSpanLike))
_TYPE = LangfuseOtelSpanAttributes.OBSERVATION_TYPE
_ENVIRONMENT = LangfuseOtelSpanAttributes.ENVIRONMENT
_RELEASE = LangfuseOtelSpanAttributes.RELEASE
_METADATA = LangfuseOtelSpanAttributes.OBSERVATION_METADATA
_JS_SAFE = 2**53 - 1  # the SDK's serializer writes ints beyond ±(2⁵³ − 1) as strings
_MAX_DEPTH = EventSerializer._MAX_DEPTH  # and containers deeper than this as "<list>" / "<dict>"


class LangfuseObservation:
    """One live observation: `update()` writes what the SDK's `update()` would, in one attribute write."""

    __slots__ = ("_generation", "_reserved", "_span", "_type", "id", "trace_id")

    def __init__(self, span: Span, as_type: str) -> None:
        self._span = span
        self._type = as_type
        self._generation = as_type in GENERATION_LIKE
        self._reserved = _reserved_attribute_keys(as_type)
        context = span.get_span_context()
        self.trace_id = format(context.trace_id, "032x")
        self.id = format(context.span_id, "016x")

    def attributes(self, *, metadata: Any = None, **fields: Any) -> dict[str, Any]:
        """The attributes the SDK makes of these fields for this observation type (None values left out)."""
        if self._generation:
            built = create_generation_attributes(observation_type=self._type, **fields)  # type: ignore[arg-type]
        else:
            kind = self._type if self._type in SPAN_LIKE else None
            built = create_span_attributes(observation_type=kind, **fields)  # type: ignore[arg-type]
        attributes = {k: v for k, v in built.items() if v is not None}
        if metadata is not None:
            attributes.update(metadata_attributes(metadata))
        return attributes

    def write(self, attributes: dict[str, Any], level: str | None, status_message: str | None) -> None:
        """Set attributes without evicting earlier ones (the SDK's limit rule); ERROR also sets the OTel status."""
        _set_span_attributes_within_limit(self._span, attributes, self._reserved)
        if level == "ERROR":
            self._span.set_status(Status(StatusCode.ERROR, description=status_message))

    def update(self, **fields: Any) -> None:
        """Add output, metadata, level, usage … (the SDK's `update` keywords; the type stays as it is)."""
        if self._span.is_recording():
            self.write(self.attributes(**fields), fields.get("level"), fields.get("status_message"))


def metadata_attributes(metadata: Any) -> dict[str, str]:
    """`langfuse.observation.metadata.<key>` attributes as the SDK writes them: each value JSON-encoded, compact.

    For plain JSON values the SDK's `EventSerializer` (a Python-level walk) gives exactly the C encoder's text
    with the same options, so that is used; anything else goes to the SDK's own function.
    """
    if not isinstance(metadata, dict) or not all(type(k) is str and _plain(v) for k, v in metadata.items()):
        return {k: v for k, v in _flatten_and_serialize_metadata(metadata, "observation").items() if v is not None}
    return {
        f"{_METADATA}.{key}": json.dumps(value, separators=(",", ":"), ensure_ascii=False)
        for key, value in metadata.items()
        if value is not None
    }


def sdk_json(mapping: dict[str, Any]) -> Any:
    """A mapping as the JSON text the SDK would make of it (usage, cost, model parameters), else the mapping.

    The SDK encodes those with its Python `EventSerializer` (a string it keeps as it is); for plain JSON values
    that gives exactly ``json.dumps``'s text, so the C encoder's is handed over (other values are left to the SDK:
    it turns big ints into strings).
    """
    return json.dumps(mapping) if _plain(mapping) else mapping


def _plain(value: Any, depth: int = 0) -> bool:
    """A value the SDK's serializer leaves as it is: str, bool, None, finite float, JS-safe int, and lists and
    str-keyed dicts of those (not deeper than the serializer's limit)."""
    kind = type(value)
    if kind is str or kind is bool or value is None:
        return True
    if kind is int:
        return bool(-_JS_SAFE <= value <= _JS_SAFE)
    if kind is float:
        return math.isfinite(value)
    if depth + 1 >= _MAX_DEPTH:  # the serializer counts the outermost container as depth 1
        return False
    if kind is list:
        return all(_plain(v, depth + 1) for v in value)
    if kind is dict:
        return all(type(k) is str and _plain(v, depth + 1) for k, v in value.items())
    return False


@contextmanager
def start_observation(client: Any, name: str, as_type: str, **fields: Any) -> Iterator[LangfuseObservation]:
    """`client.start_as_current_observation(name=…, as_type=…, **fields)` without the SDK's wrapper classes.

    Args:
        client: The `Langfuse` client whose tracer makes the span.
        name: Observation name.
        as_type: A Langfuse observation type other than ``event``.
        fields: input, output, metadata, level, status_message, version and, for generations, model,
            model_parameters, usage_details, cost_details, completion_start_time.
    """
    with client._otel_tracer.start_as_current_span(name=name, end_on_exit=True) as span:
        observation = LangfuseObservation(span, as_type)
        if span.is_recording():
            attributes: dict[str, Any] = {_TYPE: as_type}
            environment = (span.attributes or {}).get(_ENVIRONMENT)  # propagated by the processor wins
            environment = environment if isinstance(environment, str) and environment else client._environment
            if environment is not None:
                attributes[_ENVIRONMENT] = environment
            if client._release is not None:
                attributes[_RELEASE] = client._release
            built = observation.attributes(**fields)
            built.pop(_TYPE, None)
            attributes.update(built)
            observation.write(attributes, fields.get("level"), fields.get("status_message"))
        yield observation
