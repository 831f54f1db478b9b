"""The local Label Studio server: started from its own virtualenv, with generated credentials, offline."""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Final
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict

from minivess.errors import ConfigError, LabelStudioError
from minivess.fileio import exclusive, write_text_atomic
from minivess.pipelines.annotation.credentials import (
    CREDENTIALS_FILE,
    Credentials,
    client_credentials,
    data_dir,
    load_or_create_credentials,
)
from minivess.pipelines.annotation.processes import group_alive, is_live_process
from minivess.settings import Settings

logger = logging.getLogger(__name__)

LABEL_STUDIO_VERSION = "1.23.2"  # the Makefile's `make labelstudio` installs this one
VENV_DIRNAME = ".venv-labelstudio"
PID_FILE = "server.pid"
LOG_FILE = "server.log"
LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost"})
START_TIMEOUT_S = 300.0  # first boot runs ~200 migrations: ~60 s on 2 cores
STOP_GRACE_S = 10.0
POLL_S = 0.5
LOG_TAIL_LINES = 25
# Variables passed through to the server; nothing else leaks in (Label Studio also reads bare HOST, PORT, DEBUG …).
PASSTHROUGH_ENV = ("PATH", "HOME", "USER", "LOGNAME", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR", "SSL_CERT_FILE")
INSTALL_HINT = "run `make labelstudio` in the project folder (or set MINIVESS_LABEL_STUDIO_VENV to a virtualenv "


class ServerStatus(BaseModel):
    """What `minivess labelstudio status` reports."""

    model_config = ConfigDict(extra="forbid")

    running: bool  # the local server of this home
    pid: int | None
    url: str
    local: bool  # the URL is on this machine (else a hosted server, which `up` and `down` leave alone)
    api_ok: bool
    data_dir: Path
    log: Path
    credentials: Path
    email: str | None
    stale_pid: int | None = None  # a pid file whose process is gone (removed by the next up or down)


def project_roots() -> list[Path]:
    """Folders that may hold ``.venv-labelstudio``: the source checkout above this file, and the main venv's parent."""
    roots: list[Path] = []
    for parent in Path(__file__).resolve().parents:
        if (parent / "pyproject.toml").is_file():
            roots.append(parent)
            break
    venv_parent = Path(sys.prefix).resolve().parent
    if venv_parent not in roots:
        roots.append(venv_parent)
    return roots


def resolve_executable(settings: Settings) -> Path:
    """The ``label-studio`` program: MINIVESS_LABEL_STUDIO_VENV/bin, else PROJECT/.venv-labelstudio/bin.

    Raises:
        LabelStudioError: It is not installed there (the message says to run `make labelstudio`).
    """
    if settings.label_studio_venv is not None:
        candidates = [settings.label_studio_venv.expanduser().resolve() / "bin" / "label-studio"]
    else:
        candidates = [root / VENV_DIRNAME / "bin" / "label-studio" for root in project_roots()]
    for candidate in candidates:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    raise LabelStudioError(
        f"the Label Studio server is not installed: no {' or '.join(map(str, candidates))}; "
        f"{INSTALL_HINT}with label-studio=={LABEL_STUDIO_VERSION})."
    )


def local_port(url: str) -> int:
    """The port of a Label Studio URL on this machine (http://127.0.0.1:PORT or http://localhost:PORT).

    Raises:
        ConfigError: The URL is not plain http on 127.0.0.1/localhost with a port (e.g. a hosted server).
    """
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError as exc:
        raise ConfigError(f"MINIVESS_LABEL_STUDIO_URL={url} has an invalid port; use http://127.0.0.1:8089.") from exc
    if parts.scheme != "http" or parts.hostname not in LOCAL_HOSTS or port is None or parts.path.strip("/"):
        raise ConfigError(
            f"MINIVESS_LABEL_STUDIO_URL={url} is not a local http://127.0.0.1:PORT address, so there is no server "
            "to start or stop here; unset it (default http://127.0.0.1:8089) to run the local one, or use the "
            "hosted server as it is."
        )
    return port


def is_local(url: str) -> bool:
    """Whether ``url`` is a local server address that `up` can serve."""
    try:
        local_port(url)
    except ConfigError:
        return False
    return True


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    """Whether something listens on ``host:port`` (SO_REUSEADDR: a just-closed socket in TIME_WAIT does not count)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            if exc.errno in (errno.EADDRINUSE, errno.EACCES):
                return True
            raise
    return False


# What every Label Studio we start runs with (natively here, and in docker-compose.yml's labelstudio service).
LOCKED_DOWN_ENV: Final[Mapping[str, str]] = {
    "LABEL_STUDIO_ENABLE_LEGACY_API_TOKEN": "true",  # else the preset token gets 401
    "LABEL_STUDIO_DISABLE_SIGNUP_WITHOUT_LINK": "true",
    # Tasks embed their images as data URIs; local-files serving stays off, so no Label Studio user can read
    # files of the machine (the home holds credentials.json).
    "LOCAL_FILES_SERVING_ENABLED": "false",
    "SENTRY_DSN": "",
    "FRONTEND_SENTRY_DSN": "",
    "COLLECT_ANALYTICS": "false",
    "LATEST_VERSION_CHECK": "false",
}


def server_env(directory: Path, credentials: Credentials, home: Path, base: Mapping[str, str]) -> dict[str, str]:
    """The server's environment: our data dir and admin, legacy tokens on, every outbound call off."""
    env = {name: base[name] for name in PASSTHROUGH_ENV if name in base}
    env.update(
        {
            "PYTHONUNBUFFERED": "1",  # the log file shows start-up as it happens
            "LABEL_STUDIO_BASE_DATA_DIR": str(directory),
            "LABEL_STUDIO_USERNAME": credentials.email,
            "LABEL_STUDIO_PASSWORD": credentials.password,
            "LABEL_STUDIO_USER_TOKEN": credentials.token,
            **LOCKED_DOWN_ENV,
        }
    )
    return env


def api_status(url: str, token: str, timeout_s: float = 5.0) -> int | None:
    """The HTTP status of ``GET URL/api/projects`` with the token (200: usable), or None if nothing answers."""
    request = urllib.request.Request(
        f"{url.rstrip('/')}/api/projects?page_size=1", headers={"Authorization": f"Token {token}"}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)
    except (urllib.error.URLError, OSError):  # refused, reset, timed out: not (yet) serving
        return None


def log_tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    """The last lines of the server log (for error messages)."""
    if not path.exists():
        return "(no log yet)"
    with path.open("rb") as handle:
        handle.seek(max(0, path.stat().st_size - 16_384))
        text = handle.read().decode("utf-8", "replace")
    return "\n".join(text.splitlines()[-lines:])


class LabelStudioServer:
    """The local Label Studio server of one minivess home: ``start``, ``stop``, ``status``.

    Calls on one home are serialised by a file lock on the pid file, so two ``up`` at once start one server.
    """

    def __init__(self, settings: Settings, executable: Path | None = None) -> None:
        self.settings = settings
        self.executable = executable
        self.directory = data_dir(settings)
        self.url = settings.label_studio_url.rstrip("/")
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def pid_path(self) -> Path:
        return self.directory / PID_FILE

    @property
    def log_path(self) -> Path:
        return self.directory / LOG_FILE

    @property
    def credentials_path(self) -> Path:
        return self.directory / CREDENTIALS_FILE

    def read_pid(self) -> int | None:
        """The pid recorded in HOME/labelstudio/server.pid, alive or not (None without a readable file)."""
        try:
            return int(self.pid_path.read_text().strip())
        except (OSError, ValueError):
            return None

    def running_pid(self) -> int | None:
        """The pid of this home's server if it runs (a stale pid file, whose process is gone, gives None)."""
        pid = self.read_pid()
        if pid is None:
            return None
        self._reap(pid)
        return pid if is_live_process(pid) else None

    def status(self) -> ServerStatus:
        """Running or stopped, the pid, the URL, and whether the API there answers with the client's token."""
        pid = self.running_pid()
        recorded = self.read_pid()
        credentials = load_or_create_credentials(self.directory) if self.credentials_path.exists() else None
        try:
            token: str | None = client_credentials(self.settings)[1]
        except LabelStudioError:
            token = None
        return ServerStatus(
            running=pid is not None,
            pid=pid,
            url=self.url,
            local=is_local(self.url),
            api_ok=token is not None and api_status(self.url, token) == 200,
            data_dir=self.directory,
            log=self.log_path,
            credentials=self.credentials_path,
            email=credentials.email if credentials else None,
            stale_pid=recorded if pid is None and recorded is not None else None,
        )

    def start(self, timeout_s: float = START_TIMEOUT_S) -> ServerStatus:
        """Start the server and wait until its API answers with our token; a no-op when it already runs.

        Raises:
            ConfigError: The configured URL is not a local one.
            LabelStudioError: Not installed, the port is taken, or it did not come up (the log tail says why).
        """
        port = local_port(self.url)
        executable = self.executable or resolve_executable(self.settings)
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)  # it holds the admin's secrets
        with exclusive(self.pid_path, timeout_s=timeout_s + 60):
            pid = self.running_pid()
            if pid is not None:
                logger.info("Label Studio already runs (pid %s)", pid)
                # e.g. an `up` interrupted while the server booted: wait for it rather than start another
                self._wait_ready(pid, load_or_create_credentials(self.directory), timeout_s)
                return self.status()
            self.pid_path.unlink(missing_ok=True)  # stale: its process is gone
            if port_in_use(port):
                raise LabelStudioError(
                    f"port {port} on 127.0.0.1 is taken by another program, not by the server of {self.directory}; "
                    "stop that program, or choose a free port with MINIVESS_LABEL_STUDIO_URL=http://127.0.0.1:PORT."
                )
            credentials = load_or_create_credentials(self.directory)
            pid = self._spawn(executable, port, credentials)
            try:
                self._wait_ready(pid, credentials, timeout_s)
            except BaseException:  # a failed or interrupted start leaves nothing running
                self._kill_group(pid, STOP_GRACE_S)
                self.pid_path.unlink(missing_ok=True)
                raise
        return self.status()

    def stop(self, grace_s: float = STOP_GRACE_S) -> bool:
        """Stop the whole process group (SIGTERM, then SIGKILL after ``grace_s``); False if it was not running."""
        with exclusive(self.pid_path, timeout_s=START_TIMEOUT_S + 60):
            pid = self.running_pid()
            if pid is not None:
                self._kill_group(pid, grace_s)
            self.pid_path.unlink(missing_ok=True)
        return pid is not None

    def _spawn(self, executable: Path, port: int, credentials: Credentials) -> int:
        command = [str(executable), "start", "--no-browser", "--host", self.url]
        command += ["--internal-host", "127.0.0.1", "--port", str(port)]
        env = server_env(self.directory, credentials, self.settings.home_dir, os.environ)
        with self.log_path.open("ab") as log:
            log.write(f"\n=== minivess: {' '.join(command)} at {datetime.now(UTC).isoformat()} ===\n".encode())
            log.flush()
            self._process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=self.directory,
                start_new_session=True,  # its own process group: stop() signals the server and all it spawned
            )
        write_text_atomic(self.pid_path, f"{self._process.pid}\n")
        logger.info("started Label Studio (pid %s), log %s", self._process.pid, self.log_path)
        return self._process.pid

    def _wait_ready(self, pid: int, credentials: Credentials, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while True:
            code = api_status(self.url, credentials.token)
            if code == 200:
                return
            if code in (401, 403):
                raise LabelStudioError(
                    f"Label Studio at {self.url} refuses the token in {self.credentials_path} (HTTP {code}); its "
                    f"database was made with other credentials: restore them, or move {self.directory} aside."
                )
            self._reap(pid)
            if not is_live_process(pid):
                raise LabelStudioError(
                    f"Label Studio exited during start-up; last lines of {self.log_path}:\n{log_tail(self.log_path)}"
                )
            if time.monotonic() > deadline:
                raise LabelStudioError(
                    f"Label Studio did not answer at {self.url} within {timeout_s:.0f} s (last HTTP status: {code}); "
                    f"last lines of {self.log_path}:\n{log_tail(self.log_path)}"
                )
            time.sleep(POLL_S)

    def _reap(self, pid: int) -> None:
        """Collect our own exited child, so a dead server is not mistaken for a live zombie."""
        if self._process is not None and self._process.pid == pid:
            self._process.poll()
            return
        with contextlib.suppress(ChildProcessError, OSError):
            os.waitpid(pid, os.WNOHANG)

    def _kill_group(self, pgid: int, grace_s: float) -> None:
        for sig, wait_s in ((signal.SIGTERM, grace_s), (signal.SIGKILL, 5.0)):
            try:
                os.killpg(pgid, sig)
            except ProcessLookupError:
                return
            deadline = time.monotonic() + wait_s
            while time.monotonic() < deadline:
                self._reap(pgid)
                if not group_alive(pgid):
                    return
                time.sleep(0.1)
            if sig == signal.SIGTERM:
                logger.warning("Label Studio (pgid %s) ignored SIGTERM for %.0f s; killing it", pgid, grace_s)
        raise LabelStudioError(f"Label Studio's process group {pgid} survived SIGKILL; check `ps -g {pgid}`.")
