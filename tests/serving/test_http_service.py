"""`minivess serve` over real HTTP: masks equal to `minivess predict`, errors, metrics, concurrency, clean stop."""

from __future__ import annotations

import gzip
import io
import os
import signal
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import nibabel as nib
import numpy as np
import psutil
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.helpers import free_port, port_is_free
from tests.serving.conftest import ServedRun

pytestmark = [pytest.mark.integration, pytest.mark.slow]

START_TIMEOUT_S = 180.0
CONCURRENT = 20


@dataclass
class Server:
    url: str
    port: int
    log: Path
    proc: subprocess.Popen[bytes]
    started_s: float = 0.0

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")[-6000:]

    def processes(self) -> list[psutil.Process]:
        """The CLI and every process under it (BentoML's supervisor and workers)."""
        root = psutil.Process(self.proc.pid)
        return [root, *root.children(recursive=True)]


def _start(served_run: ServedRun, log: Path, *args: str) -> Server:
    """`minivess serve` in its own process group (SIGINT to the group is a terminal's Ctrl-C), once healthy."""
    port = free_port()
    tic = time.monotonic()
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "minivess", "serve", "--port", str(port), *args],
            env={**served_run.env(), "COLUMNS": "200"}, stdout=out, stderr=subprocess.STDOUT, process_group=0,
        )  # fmt: skip
    server = Server(f"http://127.0.0.1:{port}", port, log, proc)
    deadline = tic + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"the server exited with {proc.returncode}:\n{server.log_text()}")
        try:
            # Healthy, and the CLI has said so: its own probe runs on a poll, so the line can trail /healthz.
            healthy = httpx.get(f"{server.url}/healthz", timeout=2).status_code == 200
            if healthy and " — ready in " in server.log_text():
                server.started_s = time.monotonic() - tic
                return server
        except httpx.HTTPError:
            pass
        time.sleep(0.25)
    _stop(server)
    pytest.fail(f"no healthy /healthz within {START_TIMEOUT_S:.0f} s:\n{server.log_text()}")


def _stop(server: Server) -> int:
    if server.proc.poll() is None:
        os.killpg(server.proc.pid, signal.SIGINT)
        try:
            return server.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            server.proc.kill()  # BentoML's supervisor gets SIGTERM when its parent dies (PR_SET_PDEATHSIG)
            return server.proc.wait(timeout=30)
    return server.proc.returncode


@pytest.fixture(scope="module")
def server(served_run: ServedRun, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    running = _start(served_run, tmp_path_factory.mktemp("serve") / "server.log")
    try:
        yield running
    finally:
        _stop(running)


@pytest.fixture(scope="module")
def engine(server: Server) -> str:
    engine: str = httpx.get(f"{server.url}/healthz").json()["engine"]
    return engine


@pytest.fixture(scope="module")
def offline(served_run: ServedRun, engine: str, tmp_path_factory: pytest.TempPathFactory) -> dict[Path, Path]:
    """`minivess predict champion IMAGE -o OUT --engine <the server's> --uncertainty U` for every volume."""
    out = tmp_path_factory.mktemp("offline")
    masks: dict[Path, Path] = {}
    for volume in served_run.volumes():
        mask, entropy = out / f"{volume.name}.mask.nii.gz", out / f"{volume.name}.entropy.nii.gz"
        command = [sys.executable, "-m", "minivess", "predict", "champion", str(volume), "-o", str(mask)]
        command += ["--engine", engine, "--uncertainty", str(entropy)]
        done = subprocess.run(command, env=served_run.env(), capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stdout + done.stderr
        masks[volume] = mask
    return masks


def _post(url: str, name: str, data: bytes, **params: Any) -> httpx.Response:
    return httpx.post(f"{url}/segment", files={"file": (name, data)}, params=params, timeout=120)


def _image(data: bytes) -> Any:
    return nib.Nifti1Image.from_bytes(gzip.decompress(data))


def _metrics(url: str) -> dict[str, float]:
    """Our samples by name and labels, e.g. ``minivess_segment_requests_total{status="200"}``."""
    text = httpx.get(f"{url}/metrics").text
    samples: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name.startswith("minivess_"):
                labels = ",".join(f'{k}="{v}"' for k, v in sorted(sample.labels.items()) if k != "le")
                key = f"{sample.name}{{{labels}}}" if labels else sample.name
                if "le" not in sample.labels:
                    samples[key] = sample.value
    return samples


def test_healthz_names_the_served_model(server: Server, served_run: ServedRun) -> None:
    answer = httpx.get(f"{server.url}/healthz")
    assert answer.status_code == 200 and answer.headers["content-type"] == "application/json"
    info = answer.json()
    assert info["status"] == "ok" and info["model_ref"] == "champion" and info["run_id"] == served_run.run_id
    assert info["engine"] == "onnx" and info["adapter"] == "segresnet"  # auto: the champion is exported
    assert info["patch_size"] == [32, 32, 16]


def test_a_mask_equals_the_offline_prediction(
    server: Server, served_run: ServedRun, offline: dict[Path, Path], engine: str
) -> None:
    volume = served_run.volumes()[0]
    answer = _post(server.url, volume.name, volume.read_bytes())
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "application/gzip"
    assert answer.headers["content-disposition"] == f'attachment; filename="{volume.name[:-7]}_mask.nii.gz"'
    assert answer.headers["x-minivess-run-id"] == served_run.run_id
    assert answer.headers["x-minivess-engine"] == engine
    mask = _image(answer.content)
    expected = nib.load(offline[volume])
    source = nib.load(volume)
    assert mask.get_data_dtype() == np.uint8
    np.testing.assert_array_equal(np.asanyarray(mask.dataobj), np.asanyarray(expected.dataobj))
    np.testing.assert_array_equal(mask.affine, source.affine)
    np.testing.assert_array_equal(mask.affine, expected.affine)
    fraction = float(np.asanyarray(expected.dataobj).mean())
    assert float(answer.headers["x-minivess-vessel-fraction"]) == pytest.approx(fraction, abs=1e-6)
    assert float(answer.headers["x-minivess-seconds"]) > 0


def test_uncertainty_answers_a_zip_of_mask_and_entropy(
    server: Server, served_run: ServedRun, offline: dict[Path, Path]
) -> None:
    volume = served_run.volumes()[1]
    answer = _post(server.url, volume.name, volume.read_bytes(), uncertainty="true")
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "application/zip"
    stem = volume.name[:-7]
    with zipfile.ZipFile(io.BytesIO(answer.content)) as archive:
        assert archive.namelist() == [f"{stem}_mask.nii.gz", f"{stem}_entropy.nii.gz"]
        mask, entropy = (_image(archive.read(name)) for name in archive.namelist())
    expected_entropy = nib.load(str(offline[volume]).replace(".mask.", ".entropy."))
    np.testing.assert_array_equal(np.asanyarray(mask.dataobj), np.asanyarray(nib.load(offline[volume]).dataobj))
    assert entropy.get_data_dtype() == np.float32
    np.testing.assert_allclose(entropy.get_fdata(), expected_entropy.get_fdata(), atol=1e-6)
    np.testing.assert_array_equal(entropy.affine, nib.load(volume).affine)


def _two_d() -> bytes:
    return bytes(nib.Nifti1Image(np.ones((32, 32), np.float32), np.eye(4)).to_bytes())


def _header_only(shape: tuple[int, int, int]) -> bytes:
    header = nib.Nifti1Header()
    header.set_data_shape(shape)
    header.set_data_dtype(np.float32)
    header["vox_offset"] = 352
    return bytes(header.binaryblock) + b"\0" * 4


BAD_INPUTS = {
    "not-nifti": (b"%PDF-1.4 not a volume at all" * 20, 400, "not_nifti"),
    "2d-nifti": (_two_d(), 422, "not_3d"),
    "empty": (b"", 400, "empty"),
    "too-many-voxels": (_header_only((1024, 1024, 128)), 413, "too_large"),
    "corrupt-gzip": (b"\x1f\x8b\x08\x00" + b"\xde\xad\xbe\xef" * 64, 400, "not_nifti"),
}


@pytest.mark.parametrize("case", BAD_INPUTS, ids=list(BAD_INPUTS))
def test_a_bad_input_gets_a_4xx_json_error(server: Server, case: str) -> None:
    data, status, reason = BAD_INPUTS[case]
    answer = _post(server.url, "upload.nii.gz", data)
    print(f"{case}: {answer.status_code} {answer.text}")  # shown with -s / -rP
    assert answer.status_code == status
    assert answer.headers["content-type"] == "application/json"
    body = answer.json()
    assert body["error"] == reason and isinstance(body["detail"], str) and body["detail"]


def test_a_request_without_a_file_is_refused(server: Server) -> None:
    wrong_field = httpx.post(f"{server.url}/segment", files={"volume": ("v.nii", b"x")})
    assert wrong_field.status_code == 400 and wrong_field.json()["error"] == "bad_request"
    raw_body = httpx.post(f"{server.url}/segment", content=b"x", headers={"content-type": "application/gzip"})
    assert raw_body.status_code == 415 and raw_body.json()["error"] == "bad_request"


def test_metrics_count_requests_latency_and_voxels(server: Server, served_run: ServedRun) -> None:
    before = _metrics(server.url)
    volume = served_run.volumes()[2]
    assert _post(server.url, volume.name, volume.read_bytes()).status_code == 200
    assert _post(server.url, "x.nii", b"").status_code == 400
    after = _metrics(server.url)
    ok, bad = 'minivess_segment_requests_total{status="200"}', 'minivess_segment_requests_total{status="400"}'
    assert after[ok] == before.get(ok, 0) + 1
    assert after[bad] == before.get(bad, 0) + 1
    for histogram in ("minivess_segment_latency_seconds", "minivess_segment_volume_voxels"):
        assert after[f"{histogram}_count"] == before[f"{histogram}_count"] + 1
    assert after["minivess_segment_volume_voxels_sum"] - before["minivess_segment_volume_voxels_sum"] == 48 * 48 * 16
    assert after["minivess_segment_latency_seconds_sum"] > before["minivess_segment_latency_seconds_sum"]


def test_concurrent_requests_all_equal_the_offline_prediction(
    server: Server, served_run: ServedRun, offline: dict[Path, Path]
) -> None:
    volumes = [served_run.volumes()[i % len(served_run.volumes())] for i in range(CONCURRENT)]
    uploads = {volume: volume.read_bytes() for volume in set(volumes)}
    with ThreadPoolExecutor(CONCURRENT) as pool:
        tic = time.monotonic()
        answers = list(pool.map(lambda v: _post(server.url, v.name, uploads[v]), volumes))
        seconds = time.monotonic() - tic
    print(f"{CONCURRENT} concurrent requests: {[a.status_code for a in answers]} in {seconds:.1f} s")
    assert [a.status_code for a in answers] == [200] * CONCURRENT
    for volume, answer in zip(volumes, answers, strict=True):
        expected = np.asanyarray(nib.load(offline[volume]).dataobj)
        np.testing.assert_array_equal(np.asanyarray(_image(answer.content).dataobj), expected)


def test_a_second_server_on_the_home_enforces_a_small_upload_limit_and_stops_clean(
    server: Server, served_run: ServedRun, tmp_path: Path
) -> None:
    small = _start(served_run, tmp_path / "small.log", "--max-upload-mb", "0.05")  # 51 KiB; a volume is ~130 KiB
    try:
        volume = served_run.volumes()[0]
        answer = _post(small.url, volume.name, volume.read_bytes())
        print(f"upload over --max-upload-mb: {answer.status_code} {answer.text}")
        assert answer.status_code == 413 and answer.json()["error"] == "too_large"
        assert "limited to 52428" in answer.json()["detail"]
        assert httpx.get(f"{server.url}/healthz").status_code == 200  # the first server is unaffected
        tree = small.processes()
        assert len(tree) >= 3  # the CLI, BentoML's supervisor, a worker
    finally:
        code = _stop(small)
    assert code == 0, small.log_text()
    _, alive = psutil.wait_procs(tree, timeout=10)
    assert alive == [], f"left behind: {[p.pid for p in alive]}"
    assert port_is_free(small.port)
    assert "serving champion" in small.log_text()
