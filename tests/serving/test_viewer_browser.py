"""`minivess app` in a real browser: pick or upload a volume, segment, browse, compare metrics, download the mask."""

from __future__ import annotations

import io
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nibabel as nib
import numpy as np
import pytest
from PIL import Image

from minivess.pipelines.data.nifti import read_array, spacing_of, volume_id
from minivess.pipelines.metrics.volume_metrics import compute_volume_metrics
from minivess.pipelines.serving.segmenter import Segmenter
from minivess.settings import Settings
from tests.helpers import free_port
from tests.serving.conftest import ServedRun

pytestmark = [pytest.mark.integration, pytest.mark.slow]

CHROMIUM = Path("/usr/bin/chromium")
DOCS_SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "img" / "viewer.png"
DOCS_SHAPE = (96, 96, 24)
PREDICTION_RGB = (255, 60, 60)  # the viewer's prediction outline colour
START_TIMEOUT_S = 180
SEGMENT_TIMEOUT_MS = 120_000


@dataclass(frozen=True)
class Viewer:
    url: str
    process: subprocess.Popen[bytes]
    log: Path


def _wait_until_up(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"`minivess app` exited with {process.returncode}:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    pytest.fail(f"`minivess app` did not answer at {url} within {START_TIMEOUT_S} s:\n{log.read_text()}")


@contextmanager
def _running_viewer(run: ServedRun, folder: Path) -> Iterator[Viewer]:
    """`minivess app` on a free port over ``run``'s home (its dataset's parent as data folder); Ctrl-C at the end."""
    port = free_port()
    log = folder / "app.log"
    env = run.env() | {"MINIVESS_DATA_DIR": str(run.data_dir.parent)}
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "minivess", "app", "--port", str(port)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}/"
    try:
        _wait_until_up(url, process, log)
        yield Viewer(url, process, log)
    finally:
        process.send_signal(signal.SIGINT)  # what Ctrl-C sends
        try:
            code = process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            pytest.fail(f"`minivess app` did not stop within 30 s of SIGINT:\n{log.read_text()}")
    assert code == 0, log.read_text()
    assert "viewer stopped" in log.read_text()


@pytest.fixture(scope="module")
def viewer(served_run: ServedRun, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Viewer]:
    with _running_viewer(served_run, tmp_path_factory.mktemp("viewer")) as running:
        yield running


@pytest.fixture(scope="module")
def docs_run(tmp_path_factory: pytest.TempPathFactory) -> ServedRun:
    """A champion good enough to show in the docs (~1 min): segresnet_tiny, 10 epochs on three 96×96×24 volumes.

    The served run's 2-epoch model marks most voxels as vessel; a screenshot of that would explain nothing.
    """
    from minivess.configs.loading import load_experiment
    from minivess.pipelines.data.synthetic import get_preset, write_dataset
    from minivess.pipelines.tracking.mlflow_run import client_for
    from minivess.pipelines.tracking.naming import DEFAULT_REGISTERED_MODEL
    from minivess.pipelines.tracking.registry import register_run_model
    from minivess.pipelines.training import runs

    root = tmp_path_factory.mktemp("docs")
    data_dir = root / "data"
    write_dataset(data_dir, n=3, config=get_preset("default").model_copy(update={"shape": DOCS_SHAPE}), seed=0)
    settings = Settings(home=root / "home")
    overrides = [f"data.dir={data_dir}", "trainer.epochs=10", "data.val_fraction=0.34", "data.test_fraction=0.0"]
    result = runs.train(load_experiment("segresnet_tiny", overrides), settings)
    register_run_model(client_for(settings.tracking_uri), result.run_id, DEFAULT_REGISTERED_MODEL, alias="champion")
    return ServedRun(settings.home_dir, result.run_id, data_dir)


@pytest.fixture(scope="module")
def docs_viewer(docs_run: ServedRun, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Viewer]:
    with _running_viewer(docs_run, tmp_path_factory.mktemp("docs-viewer")) as running:
        yield running


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.is_file():
        pytest.fail(
            f"{CHROMIUM} is missing: the viewer's browser test drives the system Chromium (apt-get install chromium)"
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox"])
        yield instance
        instance.close()


@contextmanager
def _open_page(browser: Any, url: str) -> Iterator[Any]:
    """A fresh page on the viewer; every request it makes must stay on this machine."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
    page = context.new_page()
    outside: list[str] = []
    page.on("request", lambda r: outside.append(r.url) if not r.url.startswith((url, "data:", "blob:")) else None)
    page.goto(url)
    page.wait_for_selector("#segment")
    yield page
    context.close()
    assert outside == [], f"the page made requests off this machine: {outside}"


@pytest.fixture()
def page(browser: Any, viewer: Viewer) -> Iterator[Any]:
    with _open_page(browser, viewer.url) as opened:
        yield opened


@pytest.fixture()
def docs_page(browser: Any, docs_viewer: Viewer) -> Iterator[Any]:
    with _open_page(browser, docs_viewer.url) as opened:
        yield opened


def _offline(served_run: ServedRun, volume: Path) -> tuple[Segmenter, Any]:
    segmenter = Segmenter.open("champion", Settings(home=served_run.home))
    return segmenter, segmenter.segment_file(volume)


def _upload(page: Any, elem_id: str, path: Path) -> None:
    page.locator(f"#{elem_id} input[type=file]").set_input_files(str(path))
    page.locator(f"#{elem_id}").get_by_text(volume_id(path)[:8]).first.wait_for(timeout=30_000)


def _segment_and_wait(page: Any, expect: str) -> None:
    page.locator("#segment").click()
    page.locator("#info").get_by_text(expect).wait_for(timeout=SEGMENT_TIMEOUT_MS)
    page.locator("#overlay img").wait_for(timeout=30_000)
    page.locator("#metrics table").first.wait_for(timeout=30_000)


def _shown_metrics(page: Any) -> dict[str, float]:
    text = page.locator("#metrics").inner_text()
    rows = re.findall(r"^\s*([A-Za-z0-9 ()µ.]+?)\s+([0-9]+\.[0-9]+)\s*$", text, flags=re.MULTILINE)
    return {name.split(" ")[0]: float(value) for name, value in rows}


def _image(page: Any, elem_id: str) -> Image.Image:
    src = page.locator(f"#{elem_id} img").get_attribute("src")
    return Image.open(io.BytesIO(page.request.get(src).body())).convert("RGB")


def _move_slider(page: Any, z: int) -> None:
    before = page.locator("#overlay img").get_attribute("src")
    number = page.locator("#z-slider input[type=number]")
    number.fill(str(z))
    number.press("Enter")
    page.wait_for_function(
        "before => document.querySelector('#overlay img')?.getAttribute('src') !== before", arg=before, timeout=30_000
    )


def test_dataset_volume_segmented_in_browser(page: Any, served_run: ServedRun, tmp_path: Path) -> None:
    """A dataset volume with its seg/ mask: overlay, slider, Dice as computed offline, the mask downloads intact."""
    volume, mask = served_run.volumes()[0], served_run.masks()[0]
    assert "champion" in page.locator("#model input").input_value()

    broken = tmp_path / "broken.nii.gz"
    broken.write_bytes(b"this is not a volume")
    _upload(page, "volume-upload", broken)
    page.locator("#segment").click()
    page.get_by_text("volume refused").first.wait_for(timeout=30_000)  # UploadError's message as a toast

    page.locator("#dataset input").click()
    page.get_by_role("option", name=f"data/{volume_id(volume)}").click()  # clears the upload: the last choice wins
    _segment_and_wait(page, f"data/{volume_id(volume)}")

    segmenter, offline = _offline(served_run, volume)
    label = read_array(mask).astype(np.uint8)
    spacing = spacing_of(nib.load(str(volume)))
    expected = compute_volume_metrics(
        offline.mask, label, spacing, nsd_tolerance_um=segmenter.run.cfg.inference.nsd_tolerance_um
    )
    shown = _shown_metrics(page)
    assert shown["Dice"] == pytest.approx(expected.dice, abs=5e-4)
    assert shown["clDice"] == pytest.approx(expected.cldice, abs=5e-4)
    assert shown["NSD"] == pytest.approx(expected.nsd, abs=5e-4)
    assert shown["HD95"] == pytest.approx(expected.hd95, abs=5e-3)

    first = _image(page, "overlay")
    _move_slider(page, 2)
    assert _image(page, "overlay").size == first.size
    assert page.locator("#z-slider input[type=number]").input_value() == "2"
    assert _image(page, "mip").width > first.width  # image MIP | prediction MIP side by side

    with page.expect_download() as download:
        page.locator("#mask-download a[download]").first.click()
    saved = tmp_path / "downloaded.nii.gz"
    download.value.save_as(saved)
    downloaded = nib.load(str(saved))
    np.testing.assert_array_equal(np.asanyarray(downloaded.dataobj), offline.mask)
    np.testing.assert_allclose(downloaded.affine, nib.load(str(volume)).affine)
    page.screenshot(path=str(tmp_path / "viewer.png"), full_page=True)


def test_uploaded_volume_screenshot_for_docs(docs_page: Any, tmp_path: Path) -> None:
    """Upload an unseen 96×96×24 volume and its mask (sliding window), check the overlay, save the docs screenshot."""
    from minivess.pipelines.data.synthetic import get_preset, write_dataset

    page = docs_page
    folder = tmp_path / "docs-volume"
    write_dataset(folder, n=1, config=get_preset("default").model_copy(update={"shape": DOCS_SHAPE}), seed=3)
    volume, mask = next((folder / "raw").glob("*.nii*")), next((folder / "seg").glob("*.nii*"))
    _upload(page, "volume-upload", volume)
    _upload(page, "mask-upload", mask)
    _segment_and_wait(page, "×".join(map(str, DOCS_SHAPE)))
    assert set(_shown_metrics(page)) == {"Dice", "clDice", "NSD", "HD95"}
    _move_slider(page, DOCS_SHAPE[2] // 2 - 2)  # the viewer opens on the middle slice

    overlay = np.asarray(_image(page, "overlay"))
    predicted = (overlay == PREDICTION_RGB).all(axis=2)
    assert overlay.shape[0] >= 2 * DOCS_SHAPE[1] and 0 < predicted.mean() < 0.3, "no plausible prediction drawn"
    gray = (overlay[..., 0] == overlay[..., 1]) & (overlay[..., 1] == overlay[..., 2])
    assert gray.mean() > 0.5, "the image under the overlay is not visible"
    shot = tmp_path / "viewer.png"
    page.screenshot(path=str(shot), full_page=True)
    assert Image.open(shot).size[1] > 2 * DOCS_SHAPE[1]
    if os.environ.get("UPDATE_DOCS_IMG") == "1":  # regenerate docs/img/viewer.png; the suite never writes the repo
        shutil.copyfile(shot, DOCS_SCREENSHOT)


def test_no_champion_is_explained(served_run: ServedRun, tmp_path: Path) -> None:
    """A home without a registered champion: Segment says to train and promote a run, not a stack trace."""
    import gradio as gr

    from minivess.serving.viewer import segment_handler

    settings = Settings(home=tmp_path / "empty-home")
    segment = segment_handler(settings, tmp_path / "masks")
    with pytest.raises(gr.Error, match="no champion registered yet — train and promote a run first"):
        segment("champion", "auto", str(served_run.volumes()[0]), None, None, True)


def test_remote_host_needs_allow_remote(served_run: ServedRun) -> None:
    """Binding beyond loopback is refused (exit 2) unless --allow-remote."""
    result = subprocess.run(
        [sys.executable, "-m", "minivess", "app", "--host", "0.0.0.0"],
        env=served_run.env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 2, result.stdout + result.stderr
    assert "--allow-remote" in result.stdout + result.stderr
