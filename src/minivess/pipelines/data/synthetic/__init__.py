"""Synthetic two-photon vessel volumes: seeded vessel trees, an imaging model and label noise.

Typical use::

    from minivess.pipelines.data.synthetic import generate_volume, get_preset, write_dataset

    volume = generate_volume(get_preset("default"), seed=0)
    paths = write_dataset(out_dir, n=8, config=get_preset("noisy_labels"), seed=0)
"""

from __future__ import annotations

from minivess.pipelines.data.synthetic.config import (
    DomainShift,
    ImagingConfig,
    LabelNoiseConfig,
    SynthConfig,
    TreeConfig,
)
from minivess.pipelines.data.synthetic.dataset import nifti_bytes, volume_name, write_dataset
from minivess.pipelines.data.synthetic.generate import (
    GENERATOR_VERSION,
    SyntheticVolume,
    generate_volume,
    largest_component_fraction,
    volume_seed,
)
from minivess.pipelines.data.synthetic.ledger import (
    CorruptionRecord,
    DatasetLedger,
    LabelNoiseLedger,
    SliceChange,
)
from minivess.pipelines.data.synthetic.presets import PRESETS, SHIFTED_DOMAIN, get_preset

__all__ = [
    "GENERATOR_VERSION",
    "PRESETS",
    "SHIFTED_DOMAIN",
    "CorruptionRecord",
    "DatasetLedger",
    "DomainShift",
    "ImagingConfig",
    "LabelNoiseConfig",
    "LabelNoiseLedger",
    "SliceChange",
    "SynthConfig",
    "SyntheticVolume",
    "TreeConfig",
    "generate_volume",
    "get_preset",
    "largest_component_fraction",
    "nifti_bytes",
    "volume_name",
    "volume_seed",
    "write_dataset",
]
