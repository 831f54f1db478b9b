"""Our Prometheus metrics, served at /metrics beside BentoML's own (``bentoml_service_*``)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from prometheus_client import Counter, Histogram

# seconds per segmented volume: a test patch (~0.1 s) up to a full MinIVess volume on CPU (minutes)
LATENCY_BUCKETS: Final = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0)
# voxels per segmented volume: 16³ (4,096) to 4¹³ (~67 M, the upload limit's 64 Mi)
VOXEL_BUCKETS: Final = tuple(float(4**k) for k in range(6, 14))


@dataclass(frozen=True)
class ServiceMetrics:
    """``requests`` by HTTP status; ``latency`` and ``voxels`` of each volume segmented (2xx answers only)."""

    requests: Counter
    latency: Histogram
    voxels: Histogram


@cache
def service_metrics() -> ServiceMetrics:
    """The service's metrics, created once per worker process on first use.

    prometheus_client is imported here, not at module import: BentoML sets ``PROMETHEUS_MULTIPROC_DIR`` for
    its workers, and only metrics created with it set are written to the files its /metrics endpoint merges
    across workers.
    """
    from prometheus_client import Counter, Histogram

    return ServiceMetrics(
        requests=Counter(
            "minivess_segment_requests", "Segmentation requests by HTTP status code.", labelnames=("status",)
        ),
        latency=Histogram(
            "minivess_segment_latency_seconds",
            "Seconds from request to answer of each segmented volume (upload, inference, encoding).",
            buckets=LATENCY_BUCKETS,
        ),
        voxels=Histogram("minivess_segment_volume_voxels", "Voxels of each segmented volume.", buckets=VOXEL_BUCKETS),
    )
