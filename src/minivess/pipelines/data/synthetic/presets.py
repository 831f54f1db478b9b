"""Named SynthConfig presets (default, small, minivess, shifted, noisy_labels) and their lookup."""

from __future__ import annotations

from typing import Final

from minivess.errors import ConfigError
from minivess.pipelines.data.synthetic.config import DomainShift, LabelNoiseConfig, SynthConfig

_DEFAULT = SynthConfig()

#: Moves the imaging domain in stated directions: lower contrast, noisier, more haze, blurrier, denser.
SHIFTED_DOMAIN: Final = DomainShift(
    contrast=0.7, noise=1.4, background=1.3, vessel_density=1.3, psf_scale=1.2, radius_scale=1.0
)

PRESETS: dict[str, SynthConfig] = {
    # 96×96×24 at ~1×1×2 µm: the size unit tests, training smoke runs and demos use.
    "default": _DEFAULT,
    # 48×48×16: quick tests.
    "small": SynthConfig(shape=(48, 48, 16)),
    # MinIVess-like: 512×512 in-plane, ~22 slices. The real data spans XY 0.31-1.23 µm and
    # Z 0.5-4.97 µm; this picks ~1 µm × 5 µm (a guess inside those ranges, not a dataset median).
    "minivess": SynthConfig(shape=(512, 512, 22), spacing=(0.994, 0.994, 4.97)),
    # The default geometry seen through a worse microscope / different animal: drift checks.
    "shifted": SynthConfig(domain_shift=SHIFTED_DOMAIN),
    # The default with label corruptions and a ledger of them: label-quality checks.
    "noisy_labels": SynthConfig(label_noise=LabelNoiseConfig()),
}
"""Every preset by name. The configs are frozen; derive variants with ``model_copy(update=...)``."""


def get_preset(name: str) -> SynthConfig:
    """Return the preset called ``name``.

    Args:
        name: One of ``PRESETS``' keys (``default``, ``small``, ``minivess``, ``shifted``, ``noisy_labels``).

    Returns:
        The frozen SynthConfig of that preset (derive variants with ``model_copy(update=...)``).

    Raises:
        ConfigError: The name is not a preset; the message lists the valid names.
    """
    try:
        return PRESETS[name]
    except KeyError:
        valid = ", ".join(sorted(PRESETS))
        raise ConfigError(f"unknown synthetic preset {name!r}; choose one of: {valid}.") from None
