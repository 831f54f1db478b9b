"""Log in to Label Studio in headless Chromium and save a PNG of a labeling page (or any page of the server).

Needs Debian's Chromium and its driver, and selenium in a throwaway virtualenv (not the project's .venv)::

    apt-get install -y chromium chromium-driver
    python3 -m venv /tmp/shotvenv && /tmp/shotvenv/bin/pip install selenium

Then, with the server up (`minivess labelstudio up`) and a task queued::

    /tmp/shotvenv/bin/python scripts/labelstudio_screenshot.py \\
        --credentials .minivess/labelstudio/credentials.json --project 1 --task 1 \\
        --out docs/img/labelstudio_task.png

``--url`` defaults to $MINIVESS_LABEL_STUDIO_URL or http://127.0.0.1:8089; ``--email``/``--password`` replace
``--credentials``; ``--path /projects/`` shoots another page instead of a task. The script imports nothing of
minivess (it runs in the selenium venv) and sends nothing beyond the given server: Chromium runs with background
networking, sync and component updates off, in a fresh empty profile that is deleted afterwards.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
)
# The labeling view is ready when the editor's panels exist (Label Studio Frontend classes start with "lsf-").
TASK_READY_CSS = "[class*='lsf-main-view'], [class*='lsf-editor'], .lsf-wrapper"


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default=os.environ.get("MINIVESS_LABEL_STUDIO_URL", "http://127.0.0.1:8089"))
    parser.add_argument("--credentials", type=Path, help="credentials.json written by `minivess labelstudio up`")
    parser.add_argument("--email", help="login email (instead of --credentials)")
    parser.add_argument("--password", help="login password (instead of --credentials)")
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--task", type=int, help="task id (with --project): shoot its labeling page")
    target.add_argument("--path", help="shoot this page instead, e.g. /projects/")
    parser.add_argument("--project", type=int, help="project id of --task")
    parser.add_argument("--out", type=Path, default=Path("docs/img/labelstudio_task.png"))
    parser.add_argument("--size", default="1600,1000", help="window WIDTH,HEIGHT in pixels")
    parser.add_argument(
        "--click",
        action="append",
        default=[],
        help="click the element showing this text first (repeatable), "
        "e.g. --click 'Compare All' to show the current mask and the prediction side by side",
    )
    parser.add_argument("--settle", type=float, default=3.0, help="seconds to wait after the page is ready")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for each page")
    parser.add_argument("--chromium", default=shutil.which("chromium") or "/usr/bin/chromium")
    parser.add_argument("--driver", default=shutil.which("chromedriver") or "/usr/bin/chromedriver")
    args = parser.parse_args(argv)
    if args.task is not None and args.project is None:
        parser.error("--task needs --project")
    if args.credentials is not None:
        stored = json.loads(args.credentials.read_text(encoding="utf-8"))
        args.email = args.email or stored["email"]
        args.password = args.password or stored["password"]
    if not (args.email and args.password):
        parser.error("give --credentials, or --email and --password")
    return args


def target_url(args: argparse.Namespace) -> str:
    base = args.url.rstrip("/")
    if args.task is not None:
        return f"{base}/projects/{args.project}/data?task={args.task}"
    return f"{base}/{args.path.lstrip('/')}"


def fit_viewport(driver: Any, size: str) -> None:
    """Make the page area (not the window, which headless Chromium pads) exactly WIDTH×HEIGHT pixels."""
    width, height = (int(n) for n in size.split(","))
    inner_w, inner_h = driver.execute_script("return [window.innerWidth, window.innerHeight]")
    outer = driver.get_window_size()
    driver.set_window_size(outer["width"] + width - inner_w, outer["height"] + height - inner_h)


def shoot(args: argparse.Namespace) -> Path:
    """Log in through the web form, open the target page, wait until it is drawn and save the PNG."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    os.environ.setdefault("SE_AVOID_STATS", "true")  # Selenium Manager: no usage statistics
    profile = tempfile.mkdtemp(prefix="ls-shot-profile-")
    options = webdriver.ChromeOptions()
    options.binary_location = args.chromium
    for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={profile}", f"--window-size={args.size}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=args.driver), options=options)
    try:
        fit_viewport(driver, args.size)
        wait = WebDriverWait(driver, args.timeout)
        driver.get(f"{args.url.rstrip('/')}/user/login/")
        wait.until(ec.presence_of_element_located((By.ID, "email"))).send_keys(args.email)
        driver.find_element(By.ID, "password").send_keys(args.password)
        driver.find_element(By.CSS_SELECTOR, "#login-form button[type=submit]").click()
        wait.until(lambda d: "/user/login" not in d.current_url)
        if driver.find_elements(By.ID, "login-form"):
            raise SystemExit(f"login as {args.email} failed: check the credentials")
        driver.get(target_url(args))
        wait.until(lambda d: d.execute_script("return document.readyState") == "complete")
        if args.task is not None:
            wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, TASK_READY_CSS)))
        time.sleep(args.settle)  # images and fonts finish drawing after the DOM is ready
        for text in args.click:
            xpath = f"//*[normalize-space(text())={json.dumps(text)}]"
            wait.until(ec.element_to_be_clickable((By.XPATH, xpath))).click()
            time.sleep(args.settle)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        if not driver.save_screenshot(str(args.out)):
            raise SystemExit(f"Chromium could not write {args.out}")
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)
    return args.out


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    out = shoot(args)
    sys.stdout.write(json.dumps({"screenshot": str(out), "page": target_url(args), "bytes": out.stat().st_size}) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
