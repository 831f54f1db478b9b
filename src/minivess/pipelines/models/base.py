"""The ModelAdapter protocol and the helpers every adapter shares (options parsing, patch checks)."""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Mapping
from typing import Annotated, Any, Final, Literal, Protocol, TypeVar, get_args, get_origin, runtime_checkable

import torch
from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo

from minivess.errors import ConfigError

logger = logging.getLogger(__name__)

Patch3 = tuple[int, int, int]
Spacing3 = tuple[float, float, float]

DEFAULT_PATCH: Final[Patch3] = (64, 64, 32)
DEFAULT_SPACING: Final[Spacing3] = (1.0, 1.0, 1.0)

OptionsT = TypeVar("OptionsT", bound=BaseModel)


@runtime_checkable
class ModelAdapter(Protocol):
    """What the engine, the CLI and the tools need to know about one segmentation network.

    Attributes:
        name: Registry key, e.g. ``"segresnet"``; also the ``model.name`` config value.
        family: Architecture family, e.g. ``"cnn"`` or ``"transformer"``.
        description: One line for ``minivess models list``.
        supports_grad_checkpointing: Whether ``build(..., grad_checkpointing=True)`` is honoured.
        options_model: The adapter's pydantic Options class (``extra="forbid"``, every field documented).
    """

    name: str
    family: str
    description: str
    supports_grad_checkpointing: bool
    options_model: type[BaseModel]

    def parse_options(self, raw: Mapping[str, Any]) -> BaseModel:
        """Validate raw options (e.g. the ``model.options`` block of a config).

        Raises:
            ConfigError: naming the adapter, the bad field and its allowed values.
        """
        ...

    def validate_patch(self, patch_size: Patch3, options: BaseModel, *, spacing: Spacing3 = DEFAULT_SPACING) -> None:
        """Check that a training patch fits the network (at this voxel spacing, for spacing-planned nets).

        Raises:
            ConfigError: saying what to change and suggesting the nearest valid patch.
        """
        ...

    def min_patch(self, options: BaseModel) -> Patch3:
        """Smallest patch the adapter accepts, and a safe padding target for tiny volumes.

        It passes ``validate_patch``, and so does any patch at least this large on every axis whose
        dims are multiples of ``patch_multiple``.
        """
        ...

    def patch_multiple(self, options: BaseModel) -> int:
        """A divisor such that any input whose spatial dims are all multiples of it is accepted."""
        ...

    def build(
        self,
        options: BaseModel,
        in_channels: int = 1,
        out_channels: int = 2,
        grad_checkpointing: bool = False,
        *,
        patch_size: Patch3 = DEFAULT_PATCH,
        spacing: Spacing3 = DEFAULT_SPACING,
    ) -> torch.nn.Module:
        """Build the network: (B, in_channels, X, Y, Z) input -> (B, out_channels, X, Y, Z) logits.

        Raises:
            ConfigError: for an invalid patch or unsupported gradient checkpointing.
        """
        ...


class UniformPatchMixin:
    """Patch rules of networks that halve every axis alike: each dim a multiple of ``patch_multiple``,
    and a second bottleneck voxel along X so instance norm has more than one element."""

    name: str

    def patch_multiple(self, options: BaseModel) -> int:  # pragma: no cover - every adapter overrides it
        raise NotImplementedError

    def min_patch(self, options: BaseModel) -> Patch3:
        """``(2m, m, m)`` for patch multiple m."""
        multiple = self.patch_multiple(options)
        return (2 * multiple, multiple, multiple)

    def validate_patch(self, patch_size: Patch3, options: BaseModel, *, spacing: Spacing3 = DEFAULT_SPACING) -> None:
        """Check divisibility by the patch multiple and more than one bottleneck voxel (spacing is not used).

        Raises:
            ConfigError: with the nearest valid patch, e.g. (96, 96, 24) -> (96, 96, 32) for a multiple of 32.
        """
        check_patch_multiple(self.name, patch_size, self.patch_multiple(options))


def parse_options_for(adapter_name: str, model: type[OptionsT], raw: Mapping[str, Any]) -> OptionsT:
    """Validate ``raw`` against ``model``, turning pydantic's errors into one ConfigError.

    Args:
        adapter_name: Adapter registry key, named in the message.
        model: The adapter's Options class.
        raw: Option names to values.

    Returns:
        The validated options.

    Raises:
        ConfigError: naming the adapter, each bad field and what it accepts.
    """
    if not isinstance(raw, Mapping):
        raise ConfigError(
            f"{adapter_name} options must be a mapping of option name to value, got {type(raw).__name__}; "
            f"allowed options: {', '.join(model.model_fields)}"
        )
    try:
        return model.model_validate(dict(raw))
    except ValidationError as exc:
        problems: dict[str, str] = {}
        for err in exc.errors():
            # One message per option: pydantic may add follow-up errors (a tuple length) for the same one.
            key = str(err["loc"][0]) if err["loc"] else ""
            problems.setdefault(key, _describe_error(adapter_name, model, err))
        raise ConfigError("; ".join(problems.values())) from exc


def _describe_error(adapter_name: str, model: type[BaseModel], err: Any) -> str:
    """One readable sentence for one pydantic error dict."""
    loc: tuple[Any, ...] = tuple(err.get("loc", ()))
    msg = str(err.get("msg", "invalid value")).removeprefix("Value error, ")
    fields = model.model_fields
    if not loc:
        return f"invalid {adapter_name} options: {msg}"
    field = str(loc[0])
    where = field + "".join(f"[{part}]" for part in loc[1:])
    if err.get("type") == "extra_forbidden":
        return f"unknown {adapter_name} option '{field}'; allowed options: {', '.join(fields)}"
    got = err.get("input")
    allowed = describe_allowed(fields[field]) if field in fields else "see `minivess models list`"
    return f"invalid {adapter_name} option {where}={got!r}: {msg}; {field} accepts {allowed}"


def describe_allowed(field: FieldInfo) -> str:
    """Human-readable allowed values of a field: its type plus any numeric bounds, e.g. ``int > 0``."""
    return _with_bounds(type_name(field.annotation), field.metadata)


def _with_bounds(text: str, metadata: Iterable[Any]) -> str:
    """Append numeric bounds found in annotated-types metadata (Gt, Ge, Lt, Le) to a type name."""
    bounds = []
    for meta in metadata:
        for attr, sign in (("gt", ">"), ("ge", ">="), ("lt", "<"), ("le", "<=")):
            value = getattr(meta, attr, None)
            if value is not None:
                bounds.append(f"{sign} {value}")
    return f"{text} {' and '.join(bounds)}" if bounds else text


def type_name(annotation: Any) -> str:
    """Readable name for a field annotation, e.g. ``'instance' | 'batch'`` or ``tuple[int > 0, ...]``."""
    origin = get_origin(annotation)
    if origin is Annotated:
        base, *metadata = get_args(annotation)
        return _with_bounds(type_name(base), metadata)
    if origin is Literal:
        return " | ".join(repr(arg) for arg in get_args(annotation))
    if origin is tuple:
        args = get_args(annotation)
        if len(args) == 2 and args[1] is Ellipsis:
            return f"tuple[{type_name(args[0])}, ...]"
        return f"tuple[{', '.join(type_name(arg) for arg in args)}]"
    if isinstance(annotation, type):
        return annotation.__name__
    return str(annotation).replace("typing.", "")


def ensure_options(adapter_name: str, options: BaseModel, model: type[OptionsT]) -> OptionsT:
    """Return ``options`` typed as the adapter's Options class.

    Raises:
        TypeError: when another adapter's options (or a plain model) is passed; call ``parse_options`` first.
    """
    if not isinstance(options, model):
        raise TypeError(
            f"{adapter_name} expects {model.__name__}, got {type(options).__name__}; "
            f"build it with get_adapter('{adapter_name}').parse_options(...)"
        )
    return options


def reject_grad_checkpointing(adapter_name: str) -> None:
    """Raise the standard error for an adapter that cannot checkpoint gradients.

    Raises:
        ConfigError: always.
    """
    raise ConfigError(
        f"{adapter_name} does not support gradient checkpointing; set grad_checkpointing to false "
        "or use an adapter that supports it (see `minivess models list`)"
    )


def nearest_multiple(size: int, multiple: int) -> int:
    """The multiple of ``multiple`` closest to ``size`` (ties round up), at least ``multiple``."""
    return max(multiple, multiple * math.floor(size / multiple + 0.5))


def check_patch_multiple(adapter_name: str, patch_size: Patch3, multiple: int) -> None:
    """Check that every dim is a positive multiple of ``multiple`` and the bottleneck has > 1 voxel.

    The second rule exists because instance norm (and batch norm with batch 1) raises on a
    single-voxel feature map, in training and, for instance norm, at inference too.

    Args:
        adapter_name: Named in the message.
        patch_size: The patch to check.
        multiple: Total downsampling factor of the network (per axis).

    Raises:
        ConfigError: with the nearest valid patch as a suggestion.
    """
    _check_shape(adapter_name, patch_size)
    if any(dim % multiple for dim in patch_size):
        suggestion = _two_bottleneck_voxels(
            (
                nearest_multiple(patch_size[0], multiple),
                nearest_multiple(patch_size[1], multiple),
                nearest_multiple(patch_size[2], multiple),
            ),
            multiple,
            prefer=patch_size,
        )
        raise ConfigError(
            f"{adapter_name} needs every patch dimension divisible by {multiple}; got {patch_size}: try {suggestion}"
        )
    if math.prod(dim // multiple for dim in patch_size) < 2:
        suggestion = _two_bottleneck_voxels(patch_size, multiple, prefer=patch_size)
        raise ConfigError(
            f"{adapter_name} downsamples by {multiple}, so patch {patch_size} leaves a single voxel at the "
            f"bottleneck, where normalisation fails; make one dimension at least {2 * multiple}: "
            f"try {suggestion}"
        )


def _two_bottleneck_voxels(patch_size: Patch3, multiple: int, prefer: Patch3) -> Patch3:
    """Double one axis of a valid-multiple patch that would leave one bottleneck voxel.

    The doubled axis is the one the user asked most of (``prefer``, the original patch), first on ties.
    """
    if math.prod(dim // multiple for dim in patch_size) >= 2:
        return patch_size
    largest = max(range(3), key=lambda axis: prefer[axis])
    x, y, z = (dim * 2 if axis == largest else dim for axis, dim in enumerate(patch_size))
    return (x, y, z)


def _check_shape(adapter_name: str, patch_size: Patch3) -> None:
    """Reject patches that are not three positive integers."""
    if len(patch_size) != 3 or any(not isinstance(dim, int) or dim < 1 for dim in patch_size):
        raise ConfigError(f"{adapter_name} needs a 3D patch of three positive integers (X, Y, Z); got {patch_size!r}")


def count_parameters(module: torch.nn.Module) -> int:
    """Number of trainable parameters of a built network."""
    return sum(param.numel() for param in module.parameters() if param.requires_grad)
