"""The whole product, as a lab would use it, through the real CLI and the real servers (issue 16, item 8).

synthesise → train → calibrate → find label issues → review in the real Label Studio (a scripted reviewer that
draws the generator's clean mask) → import → retrain on the reviewed version → short search → promote with an
approval → serve → segment over HTTP → model card and data card → lineage from the served model back to the raw
volumes → audit verify (and a one-byte edit caught).

Every step is a fresh `minivess …` process on one home, as from a terminal; only the reviewer talks to Label
Studio's API directly (the web UI's API). Each step's wall time is printed (run with -s to see it).
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from tests.helpers import free_port, port_is_free

pytestmark = [pytest.mark.e2e, pytest.mark.integration, pytest.mark.labelstudio, pytest.mark.slow]

SHAPE = ("48", "48", "16")
PATCH = "data.patch_size=[32,32,16]"
REVIEWER = "e2e-reviewer"
STEP_TIMEOUT_S = 300


class Product:
    """Runs `minivess` commands on one home and keeps each step's wall time."""

    def __init__(self, home: Path, ls_port: int) -> None:
        self.home = home
        self.env = {
            **os.environ,
            "MINIVESS_HOME": str(home),
            "MINIVESS_LABEL_STUDIO_URL": f"http://127.0.0.1:{ls_port}",
            "MINIVESS_USER": REVIEWER,
            "COLUMNS": "200",
        }
        self.times: dict[str, float] = {}
        self.started: list[subprocess.Popen[bytes]] = []

    def run(self, step: str, *args: str, ok: tuple[int, ...] = (0,)) -> subprocess.CompletedProcess[str]:
        tic = time.monotonic()
        out = subprocess.run(
            [sys.executable, "-m", "minivess", *args], env=self.env, capture_output=True, text=True,
            timeout=STEP_TIMEOUT_S,
        )  # fmt: skip
        self.times[step] = self.times.get(step, 0.0) + time.monotonic() - tic
        assert out.returncode in ok, f"`minivess {' '.join(args)}` exited {out.returncode}:\n{out.stdout}\n{out.stderr}"
        return out

    def json(self, step: str, *args: str, ok: tuple[int, ...] = (0,)) -> Any:
        return json.loads(self.run(step, *args, "--json", ok=ok).stdout)

    def popen(self, *args: str, log: Path) -> subprocess.Popen[bytes]:
        with log.open("wb") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", "minivess", *args], env=self.env, stdout=out, stderr=subprocess.STDOUT,
                process_group=0,
            )  # fmt: skip
        self.started.append(proc)
        return proc


@pytest.fixture
def product(tmp_path: Path) -> Iterator[Product]:
    home = tmp_path / "lab-home"
    app = Product(home, free_port())
    try:
        yield app
    finally:  # whatever failed: stop what this test started (a waiting `labelstudio up`, the server itself)
        for proc in app.started:
            _stop(proc)
        subprocess.run([sys.executable, "-m", "minivess", "labelstudio", "down"], env=app.env, timeout=120)
        print("\nend-to-end step times (s):", json.dumps({k: round(v, 1) for k, v in app.times.items()}))
        print(f"end-to-end total: {sum(app.times.values()):.0f} s")


def _stop(proc: subprocess.Popen[bytes]) -> int:
    """Ctrl-C to the process group, as a terminal sends it."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGINT)
        try:
            return proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    return proc.returncode


def _review_with_clean_masks(home: Path, data: Path) -> int:
    """The scripted reviewer: answers every queued task with the generator's clean mask of that slice."""
    from minivess.pipelines.annotation.client import connect
    from minivess.pipelines.annotation.queue import project_tasks
    from minivess.pipelines.annotation.slices import brush_result, take_slice
    from minivess.pipelines.data.nifti import read_array
    from minivess.settings import Settings

    settings = Settings(home=home, label_studio_url=os.environ["E2E_LABEL_STUDIO_URL"], _env_file=None)
    client, _ = connect(settings)
    projects = list(client.projects.list())
    assert len(projects) == 1, [p.title for p in projects]
    tasks = list(project_tasks(client, projects[0].id, fields="all"))
    for task in tasks:
        volume, axis, index = task.data["volume_id"], int(task.data["axis"]), int(task.data["slice_index"])
        clean = take_slice(read_array(data / "seg_clean" / f"{volume}.nii.gz").astype(bool), axis, index)
        client.annotations.create(id=int(task.id), result=[brush_result(clean)], was_cancelled=False)
    return len(tasks)


def _nodes(tree: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    found = [tree] if tree["kind"] == kind else []
    for child in tree.get("children", []):
        found += _nodes(child, kind)
    return found


@pytest.mark.timeout(1500)
def test_a_lab_goes_from_raw_volumes_to_an_audited_served_champion(
    product: Product, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home, data = product.home, product.home / "data" / "synthetic"
    monkeypatch.setenv("E2E_LABEL_STUDIO_URL", product.env["MINIVESS_LABEL_STUDIO_URL"])

    # Label Studio's first boot (migrations, ~1 min) overlaps the first steps, as a user would start it.
    label_studio = product.popen("labelstudio", "up", log=tmp_path / "labelstudio-up.log")

    # 1. Synthesise (noisy labels: the generator keeps the clean masks for the scripted reviewer).
    product.run("synth", "data", "synth", "--out", str(data), "--n", "6", "--shape", *SHAPE, "--preset",
                "noisy_labels", "--seed", "3")  # fmt: skip
    raw_names = sorted(p.name for p in (data / "raw").iterdir())
    assert len(raw_names) == 6

    # 2. Train, 3. calibrate.
    trained = product.run("train", "train", "-c", "segresnet_tiny", "--set", "trainer.epochs=1", "--set", PATCH)
    first_run = re.search(r"training run ([0-9a-f]{32})", trained.stdout).group(1)  # type: ignore[union-attr]
    product.run("calibrate", "calibrate", first_run)

    # 4. Label issues (cleanlab on out-of-fold probabilities).
    product.run("labels find", "labels", "find", "--folds", "2", "--epochs", "1", "--top", "5")

    # 5. Review in the real Label Studio.
    tic = time.monotonic()
    assert label_studio.wait(timeout=STEP_TIMEOUT_S) == 0, (tmp_path / "labelstudio-up.log").read_text()
    product.times["labelstudio up (beyond the steps above)"] = time.monotonic() - tic
    queued = product.json("labels queue", "labels", "queue", "--top", "4", "--run", first_run)
    assert queued["queued"] == 4
    tic = time.monotonic()
    assert _review_with_clean_masks(home, data) == 4
    product.times["review (scripted)"] = time.monotonic() - tic
    status = product.json("labels status", "labels", "status")
    assert (status["reviewed"], status["pending"]) == (4, 0)

    # 6. Import the reviews as a new dataset version (the source folder stays as it was).
    before = {p: p.read_bytes() for p in sorted(data.rglob("*")) if p.is_file()}
    imported = product.json("labels import", "labels", "import")
    assert imported["reviews_applied"] == 4 and not imported["already_imported"]
    assert {p: p.read_bytes() for p in sorted(data.rglob("*")) if p.is_file()} == before
    reviewed = Path(imported["dataset_dir"])
    versions = product.json("data versions", "data", "versions")
    by_source = {v["source"]: v for v in versions}
    assert set(by_source) == {"synth", "label_import"}
    assert by_source["label_import"]["parent_version"] == by_source["synth"]["version"]

    # 7. Retrain on the reviewed version, 8. a short search on it.
    product.run("retrain", "train", "-c", "segresnet_tiny", "--set", "trainer.epochs=1", "--set", PATCH,
                "--set", f"data.dir={reviewed}")  # fmt: skip
    product.run("search", "search", "start", "--trials", "2", "--epochs", "1", "--budget-minutes", "4",
                "--families", "segresnet", "--dataset", str(reviewed), "--set", PATCH)  # fmt: skip
    search = product.json("search status", "search", "status", "last")
    assert search["status"] == "finished" and search["trials_finished"] == 2
    best = search["best_run_id"]

    # 9. Promote with an approval: the agent plans, waits; a named person approves with a reason.
    asked = product.json("ask", "ask", f"make run {best[:12]} the champion", ok=(3,))  # 3: waits for approval
    assert asked["status"] == "awaiting_approval", asked
    assert [q["tool"] for q in asked["questions"]] == ["promote_model"]
    approved = product.json("approve", "approve", asked["thread_id"], "--comment", "best test clDice of the search")
    promoted = approved["tools"][0]["result"]
    assert promoted["alias"] == "champion" and promoted["run_id"] == best
    product.run("calibrate champion", "calibrate", best)

    # 10. Serve the champion, 11. segment a volume over HTTP.
    port = free_port()
    tic = time.monotonic()
    server = product.popen("serve", "--port", str(port), log=tmp_path / "serve.log")
    try:
        deadline = time.monotonic() + 180
        while " — ready in " not in (tmp_path / "serve.log").read_text(errors="replace"):
            assert server.poll() is None, (tmp_path / "serve.log").read_text()
            assert time.monotonic() < deadline, (tmp_path / "serve.log").read_text()
            time.sleep(0.5)
        volume = data / "raw" / raw_names[0]
        answer = httpx.post(f"http://127.0.0.1:{port}/segment", files={"file": (volume.name, volume.read_bytes())},
                            timeout=120)  # fmt: skip
        assert answer.status_code == 200, answer.text
        assert answer.headers["x-minivess-model"] == "champion"
        served_run = answer.headers["x-minivess-run-id"]
        assert served_run == best
        mask_path = tmp_path / "mask.nii.gz"
        mask_path.write_bytes(answer.content)
        from minivess.pipelines.data.nifti import read_array

        mask = read_array(mask_path)
        assert mask.shape == tuple(int(n) for n in SHAPE) and set(np.unique(mask)) <= {0, 1}
    finally:
        code = _stop(server)
    product.times["serve + segment"] = time.monotonic() - tic
    assert code == 0, (tmp_path / "serve.log").read_text()
    assert port_is_free(port)

    # 12. Model card and data card.
    card = product.json("card", "card", "champion")
    assert card["run_id"] == best and "champion" in card["aliases"]
    assert card["temperature"] is not None and card["dvc_version"] == by_source["label_import"]["version"]
    assert any(a.startswith(f"approval by {REVIEWER}: best test clDice") for a in card["approvals"]), card
    model_html = home / "cards" / f"{card['registered_model']}-v{card['version']}" / "model_card.html"
    assert "Intended use" in model_html.read_text()
    data_card = product.json("data card", "data", "card", str(reviewed))
    assert data_card["volumes"] == 6, data_card

    # 13. Lineage from the served model back to the raw volumes, through the reviews.
    tree = product.json("lineage", "lineage", served_run)
    (run_node,) = _nodes(tree, "run")
    assert run_node["details"]["run_id"] == best
    (reviews_node,) = _nodes(tree, "reviews")
    assert len(reviews_node["details"]["review_ids"]) == 4
    datasets = _nodes(tree, "dataset")
    assert [d["details"]["source"] for d in datasets] == ["label_import", "synth"]
    (volumes_node,) = _nodes(tree, "volumes")
    assert sorted(v["label"].removeprefix("volume ") for v in volumes_node["children"]) == raw_names
    champion_text = product.run("lineage", "lineage", "champion").stdout
    print("\n`minivess lineage champion`:\n" + champion_text)

    # 14. The audit trail: intact, every decision of the run recorded with who; one edited byte is caught.
    verified = product.run("audit verify", "audit", "verify")
    assert "audit trail intact" in verified.stdout
    entries = product.json("audit log", "audit", "log")
    kinds = [e["kind"] for e in entries]
    for kind in ("dataset_version", "label_import", "search_decision", "approval", "promotion"):
        assert kind in kinds, kinds
    approval = next(e for e in entries if e["kind"] == "approval")
    assert approval["actor"] == REVIEWER and approval["reason"] == "best test clDice of the search"
    log = home / "audit" / "audit.jsonl"
    original = log.read_bytes()
    at = original.index(b"best test clDice")
    log.write_bytes(original[:at] + b"B" + original[at + 1 :])  # one byte: "best" → "Best"
    broken = product.run("audit verify (edited)", "audit", "verify", ok=(1,))
    assert "edited" in broken.stdout + broken.stderr
    log.write_bytes(original)
    product.run("audit verify", "audit", "verify")
