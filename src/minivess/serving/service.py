"""The BentoML segmentation service that `minivess serve` runs: POST /segment, GET /healthz, GET /metrics.

BentoML 1.4 fixes its own /healthz (= /livez, a plain "\\n") ahead of every user route, so a small ASGI
middleware answers GET /healthz with the served model instead; /livez and /readyz stay BentoML's. The
endpoints are a Starlette app mounted on the service, which keeps the HTTP contract (multipart upload, NIfTI
answers, ``{"error", "detail"}`` bodies, a body bounded while it streams in) in our hands. This module imports
no torch: BentoML's supervisor process imports it too, and only the workers load the model.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import re
import sys
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, NoReturn

import anyio.to_thread
import bentoml
from starlette.applications import Starlette
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from minivess.serving import STARTUP_ERROR_FILE
from minivess.serving.metrics import service_metrics
from minivess.settings import get_settings

if TYPE_CHECKING:
    from minivess.pipelines.serving.segmenter import Segmentation, Segmenter, UploadLimits

logger = logging.getLogger(__name__)

REQUEST_TIMEOUT_S: Final = 900.0  # BentoML's default (60 s) is less than a full volume can take on CPU
MIB: Final = 1024 * 1024
MULTIPART_SLACK: Final = 64 * 1024  # boundaries, part headers and the flag around the file in a request body
FILE_FIELD: Final = "file"
_TRUE: Final = frozenset({"1", "true", "yes", "on"})
_FALSE: Final = frozenset({"", "0", "false", "no", "off"})


@dataclass(frozen=True)
class Loaded:
    """What a worker serves: the segmenter and the upload limits."""

    segmenter: Segmenter
    limits: UploadLimits


@dataclass(frozen=True)
class Upload:
    data: bytes
    stem: str  # the uploaded file's name without .nii/.nii.gz, safe for a Content-Disposition
    uncertainty: bool


def error_response(reason: str, detail: str, status: int) -> JSONResponse:
    """The body of every refused request: ``{"error": reason, "detail": message}``."""
    return JSONResponse({"error": reason, "detail": detail}, status_code=status)


def _loaded() -> Loaded:
    loaded: Loaded = bentoml.get_current_service().loaded
    return loaded


class _BodyTooLargeError(Exception):
    pass


def _bounded(receive: Receive, limit: int) -> Receive:
    """``receive`` that fails once more than ``limit`` body bytes arrived, so a large body is never buffered."""
    seen = 0

    async def bounded_receive() -> Message:
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > limit:
                raise _BodyTooLargeError
        return message

    return bounded_receive


def _flag(value: str | None) -> bool:
    from minivess.pipelines.serving.segmenter import UploadError

    text = (value or "").strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise UploadError("bad_request", f"uncertainty={value!r}: use true or false.", 400)


def _stem(filename: str | None) -> str:
    name = (filename or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = re.sub(r"(\.nii)?(\.gz)?$", "", name, flags=re.IGNORECASE)
    return re.sub(r"[^A-Za-z0-9._-]", "_", name)[:100].strip("._") or "volume"


async def read_request(request: Request, max_bytes: int) -> Upload:
    """The uploaded volume of a multipart request, its body bounded by ``max_bytes`` (+ multipart framing).

    A declared Content-Length over the bound is refused before any of the body is read; a body without one
    (chunked) is counted as it arrives and refused as soon as it passes the bound.
    """
    from minivess.pipelines.serving.segmenter import UploadError

    hint = "send the volume as multipart/form-data in a field named 'file' (curl -F file=@volume.nii.gz)"
    if request.headers.get("content-type", "").split(";")[0].strip().lower() != "multipart/form-data":
        raise UploadError("bad_request", f"the request is not multipart/form-data: {hint}.", 415)
    limit = max_bytes + MULTIPART_SLACK
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise UploadError(
            "too_large", f"the request body is {declared} bytes; uploads are limited to {max_bytes}.", 413
        )
    bounded = Request(request.scope, _bounded(request.receive, limit))
    try:
        form = await bounded.form(max_files=1, max_fields=4)
    except _BodyTooLargeError:
        raise UploadError(
            "too_large", f"the request body passed {limit} bytes; uploads are limited to {max_bytes}.", 413
        ) from None
    except HTTPException as exc:  # Starlette's answer to a malformed multipart body
        raise UploadError("bad_request", f"the multipart body is malformed ({exc.detail}): {hint}.", 400) from exc
    try:
        upload = form.get(FILE_FIELD)
        if not isinstance(upload, UploadFile):
            raise UploadError("bad_request", f"the request has no file field '{FILE_FIELD}': {hint}.", 400)
        field = form.get("uncertainty")
        flag = request.query_params.get("uncertainty") if field is None else str(field)
        return Upload(await upload.read(), _stem(upload.filename), _flag(flag))
    finally:
        await form.close()


def _headers(loaded: Loaded, segmentation: Segmentation, filename: str) -> dict[str, str]:
    info = loaded.segmenter.info
    return {
        "Content-Disposition": f'attachment; filename="{filename}"',
        "X-Minivess-Model": info.model_ref,
        "X-Minivess-Run-Id": info.run_id,
        "X-Minivess-Engine": info.engine,
        "X-Minivess-Vessel-Fraction": f"{segmentation.vessel_fraction:.6f}",
        "X-Minivess-Seconds": f"{segmentation.seconds:.3f}",
        "X-Minivess-Voxels": str(segmentation.mask.size),
    }


def _segment(loaded: Loaded, upload: Upload) -> tuple[Response, int]:
    """Segment and encode (on a worker thread); the answer and the volume's voxel count."""
    segmentation = loaded.segmenter.segment_bytes(upload.data, loaded.limits)
    mask = segmentation.mask_nifti()
    if not upload.uncertainty:
        headers = _headers(loaded, segmentation, f"{upload.stem}_mask.nii.gz")
        return Response(mask, media_type="application/gzip", headers=headers), int(segmentation.mask.size)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as archive:  # members are gzipped already
        archive.writestr(f"{upload.stem}_mask.nii.gz", mask)
        archive.writestr(f"{upload.stem}_entropy.nii.gz", segmentation.uncertainty_nifti())
    headers = _headers(loaded, segmentation, f"{upload.stem}_segmentation.zip")
    return Response(buffer.getvalue(), media_type="application/zip", headers=headers), int(segmentation.mask.size)


ADMITTED: Final = 2  # one being segmented, one being read and checked; the rest wait before their body is read
_ADMISSION: list[anyio.Semaphore] = []


def _admission() -> anyio.Semaphore:
    """The worker's admission semaphore, made on first use (inside the running event loop)."""
    if not _ADMISSION:
        _ADMISSION.append(anyio.Semaphore(ADMITTED))
    return _ADMISSION[0]


async def segment(request: Request) -> Response:
    """POST /segment: the mask as .nii.gz, or with ``uncertainty=true`` a zip of the mask and the entropy map."""
    from minivess.errors import DataError
    from minivess.pipelines.serving.segmenter import UploadError

    started = time.perf_counter()
    loaded = _loaded()
    voxels = 0
    try:
        async with _admission():  # bounded memory and scratch space: at most ADMITTED uploads held at once
            upload = await read_request(request, loaded.limits.max_bytes)
            response, voxels = await anyio.to_thread.run_sync(_segment, loaded, upload)
    except UploadError as exc:
        response = error_response(exc.reason, str(exc), exc.status)
    except DataError as exc:  # a readable volume the pipeline still cannot take
        response = error_response("bad_volume", str(exc), 422)
    except Exception:  # the HTTP boundary: log it, answer in our JSON shape, count it
        logger.exception("segmenting an upload failed")
        response = error_response("internal", "segmentation failed on the server; its log has the details.", 500)
    metrics = service_metrics()
    metrics.requests.labels(status=str(response.status_code)).inc()
    if response.status_code < 300:
        metrics.latency.observe(time.perf_counter() - started)
        metrics.voxels.observe(voxels)
    return response


def healthz_body() -> tuple[dict[str, Any], int]:
    """``{"status": "ok", <SegmenterInfo>}`` once a model is loaded, else 503."""
    try:
        loaded = _loaded()
    except bentoml.exceptions.BentoMLException:
        return {"status": "loading"}, 503
    return {"status": "ok", **loaded.segmenter.info.model_dump(mode="json")}, 200


class HealthzMiddleware:
    """Answers GET /healthz with the served model's `SegmenterInfo` as JSON (before BentoML's routing)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == "/healthz" and scope["method"] in ("GET", "HEAD"):
            body, status = healthz_body()
            await JSONResponse(body, status_code=status)(scope, receive, send)
            return
        await self.app(scope, receive, send)


def _startup_failed(reason: str) -> NoReturn:
    """Log why the model cannot be served, leave it for `minivess serve` and end this worker.

    BentoML's process manager restarts a worker that fails to start, forever; `minivess serve` reads
    BENTOML_HOME/startup-error.txt, prints the reason in one line and stops the server. The worker ends with
    ``os._exit``, so a retry under plain `bentoml serve` logs one line, not BentoML's traceback.
    """
    logger.error("cannot serve the model: %s", reason)
    if home := os.environ.get("BENTOML_HOME"):
        with contextlib.suppress(OSError):
            Path(home, STARTUP_ERROR_FILE).write_text(reason + "\n")
    sys.stderr.flush()
    os._exit(2)


api = Starlette(routes=[Route("/segment", segment, methods=["POST"])])


class SegmentationWorker:
    """Loads the model named by ``MINIVESS_SERVE_MODEL`` once per worker (engine ``MINIVESS_SERVE_ENGINE``)."""

    def __init__(self) -> None:
        from minivess.errors import MinivessError
        from minivess.pipelines.serving.segmenter import Segmenter, UploadLimits

        settings = get_settings()
        started = time.perf_counter()
        try:
            segmenter = Segmenter.open(settings.serve_model, settings, settings.serve_engine)
        except MinivessError as exc:
            _startup_failed(f"{type(exc).__name__}: {exc}")
        except Exception as exc:  # a broken artifact (e.g. an unreadable ONNX file): retrying cannot help either
            logger.exception("loading %s failed", settings.serve_model)
            _startup_failed(f"{type(exc).__name__}: {exc}")
        self.loaded = Loaded(segmenter, UploadLimits(max_bytes=int(settings.serve_max_upload_mb * MIB)))
        service_metrics().requests.labels(status="200")  # the series exists (at 0) from the first scrape
        info = segmenter.info
        logger.info(
            "serving %s (run %s, %s, %s), loaded in %.1f s",
            info.model_ref,
            info.run_id,
            info.adapter,
            info.engine,
            time.perf_counter() - started,
        )


# `bentoml serve minivess.serving.service:SegmentationService` (what `minivess serve` runs)
SegmentationService: bentoml.Service[SegmentationWorker] = bentoml.service(
    name="SegmentationService", traffic={"timeout": REQUEST_TIMEOUT_S}, workers=1
)(bentoml.asgi_app(api, path="/")(SegmentationWorker))
SegmentationService.add_asgi_middleware(HealthzMiddleware)
