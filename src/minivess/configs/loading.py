"""Load experiment presets (YAML), apply dotted overrides (a.b=3) and turn validation errors into one clear line."""

from __future__ import annotations

import copy
import difflib
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from minivess.configs.experiment import ExperimentConfig
from minivess.errors import ConfigError

PRESET_DIR_NAME = "configs"


def preset_dirs() -> list[Path]:
    """Folders searched for named presets: ./configs, then the repository's configs/ (for dev installs)."""
    here = Path.cwd() / PRESET_DIR_NAME
    repo = Path(__file__).resolve().parents[3] / PRESET_DIR_NAME
    return [d for d in dict.fromkeys([here, repo]) if d.is_dir()]


def available_presets() -> list[str]:
    return sorted({p.stem for d in preset_dirs() for p in d.glob("*.yaml")})


def resolve_preset(preset: str | Path) -> Path:
    """A preset name (``segresnet_tiny``) or a path to a YAML file."""
    path = Path(preset)
    if path.suffix in (".yaml", ".yml") or path.exists():
        if not path.is_file():
            raise ConfigError(f"config file {path} does not exist.")
        return path
    for folder in preset_dirs():
        candidate = folder / f"{preset}.yaml"
        if candidate.is_file():
            return candidate
    names = available_presets()
    raise ConfigError(f"unknown preset '{preset}'; available: {', '.join(names) or '(none found in ./configs)'}.")


def read_yaml(path: Path) -> dict[str, Any]:
    try:
        loaded = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"cannot read config {path}: {exc}") from exc
    if not isinstance(loaded, dict):
        raise ConfigError(f"config {path} must be a YAML mapping at the top level.")
    return loaded


def _check_key_path(model: type[BaseModel], parts: list[str], dotted: str) -> None:
    """Reject override keys that name no field, suggesting the closest valid one."""
    current: type[BaseModel] | None = model
    for depth, part in enumerate(parts):
        if current is None:  # inside a free-form dict (model.options): the adapter validates it
            return
        fields = current.model_fields
        if part not in fields:
            prefix = ".".join(parts[:depth])
            close = difflib.get_close_matches(part, list(fields), n=1)
            hint = f" Did you mean '{'.'.join([*parts[:depth], close[0]])}'?" if close else ""
            raise ConfigError(
                f"unknown config key '{dotted}'.{hint} Valid keys under '{prefix or 'top level'}': {', '.join(fields)}."
            )
        annotation = fields[part].annotation
        current = annotation if isinstance(annotation, type) and issubclass(annotation, BaseModel) else None
        if current is None and depth < len(parts) - 1 and part != "options":
            raise ConfigError(f"config key '{'.'.join(parts[: depth + 1])}' is a value, not a section: '{dotted}'.")


def apply_overrides(raw: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Apply ``a.b.c=value`` overrides from a command line; values are parsed as YAML (``1e-3``, ``[64,64,16]``)."""
    return apply_values(raw, parse_overrides(overrides))


def parse_overrides(overrides: list[str]) -> dict[str, Any]:
    """``["a.b=1e-3"]`` → ``{"a.b": 0.001}`` (YAML values); keys are checked when the values are applied."""
    values: dict[str, Any] = {}
    for item in overrides:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ConfigError(f"override '{item}' must look like section.key=value, e.g. trainer.epochs=2.")
        try:
            values[key] = yaml.safe_load(value) if value.strip() else None
        except yaml.YAMLError as exc:
            raise ConfigError(f"override '{item}': cannot parse value '{value}': {exc}") from exc
    return values


def apply_values(raw: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
    """Set typed values at dotted keys (``{"trainer.epochs": 8}``) on a copy of ``raw``; unknown keys are refused.

    Callers holding typed values (the agent's tools) use this directly: nothing is turned into text and parsed
    again, so a dataset named ``null`` stays a string.
    """
    result = copy.deepcopy(raw)
    for key, value in values.items():
        parts = key.split(".")
        _check_key_path(ExperimentConfig, parts, key)
        node = result
        for part in parts[:-1]:
            child = node.get(part)
            if not isinstance(child, dict):
                child = {}
                node[part] = child
            node = child
        node[parts[-1]] = value
    return result


def format_validation_error(exc: ValidationError) -> str:
    lines = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"]) or "config"
        got = err.get("input")
        shown = "" if isinstance(got, dict) else f" (got {got!r})"
        lines.append(f"{where}: {err['msg']}{shown}")
    return "invalid experiment config — " + "; ".join(lines)


def build_experiment(raw: dict[str, Any]) -> ExperimentConfig:
    try:
        return ExperimentConfig.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc)) from exc


def load_experiment(
    preset: str | Path | None = None, overrides: list[str] | None = None, values: dict[str, Any] | None = None
) -> ExperimentConfig:
    """Defaults ← preset YAML ← command-line overrides (text) ← typed values, validated.

    Raises:
        ConfigError: unknown preset or key, unparsable value, or a value that fails validation.
    """
    raw = read_yaml(resolve_preset(preset)) if preset else {}
    return build_experiment(apply_values(apply_overrides(raw, overrides or []), values or {}))


def flatten(config: BaseModel) -> dict[str, str]:
    """Dotted key → string value, for MLflow params (``model.options.init_filters`` → ``8``)."""
    out: dict[str, str] = {}

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, dict):
            if not value:
                out[prefix] = "{}"
            for key, item in value.items():
                walk(f"{prefix}.{key}" if prefix else str(key), item)
        elif isinstance(value, list | tuple):
            out[prefix] = ",".join(str(v) for v in value)
        else:
            out[prefix] = "" if value is None else str(value)

    walk("", config.model_dump(mode="json"))
    return out
