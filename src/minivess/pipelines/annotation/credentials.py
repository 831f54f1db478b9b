"""The local Label Studio server's admin credentials, and the URL + token a client should use (no server code)."""

from __future__ import annotations

import secrets
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from minivess.errors import LabelStudioError
from minivess.fileio import write_text_atomic
from minivess.settings import Settings

DIRNAME = "labelstudio"  # HOME/labelstudio: Label Studio's data dir (SQLite, media) and our files beside it
CREDENTIALS_FILE = "credentials.json"
DATABASE_FILE = "label_studio.sqlite3"
ADMIN_EMAIL = "admin@minivess.local"


class Credentials(BaseModel):
    """The admin account of the local server (HOME/labelstudio/credentials.json, mode 0600)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    email: str
    password: str
    token: str  # a legacy API token: send it as `Authorization: Token <token>`


def data_dir(settings: Settings) -> Path:
    """HOME/labelstudio: Label Studio's LABEL_STUDIO_BASE_DATA_DIR, with our credentials, pid and log files."""
    return settings.home_dir / DIRNAME


def load_or_create_credentials(directory: Path) -> Credentials:
    """The admin credentials in ``directory``; created with a random password and token on first use.

    Raises:
        LabelStudioError: The file is unreadable, or the database exists without it (its user has other secrets).
    """
    path = directory / CREDENTIALS_FILE
    if path.exists():
        try:
            return Credentials.model_validate_json(path.read_text(encoding="utf-8"))
        except ValueError as exc:
            raise LabelStudioError(
                f"{path} is not valid credentials JSON ({exc}); restore it, or move {directory} aside to start afresh."
            ) from exc
    if (directory / DATABASE_FILE).exists():
        raise LabelStudioError(
            f"{directory / DATABASE_FILE} exists but {path} is missing, so its admin token is unknown; restore "
            f"{CREDENTIALS_FILE}, or move {directory} aside to start with an empty server."
        )
    credentials = Credentials(email=ADMIN_EMAIL, password=secrets.token_urlsafe(18), token=secrets.token_hex(20))
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    write_text_atomic(path, credentials.model_dump_json(indent=2) + "\n")  # mkstemp: created 0600
    path.chmod(0o600)
    return credentials


def client_credentials(settings: Settings) -> tuple[str, str]:
    """The URL and API token a ``label_studio_sdk`` client should use.

    The token is ``settings.label_studio_token`` when set (a hosted server), else the local server's generated one.

    Raises:
        LabelStudioError: No token is configured and the local server was never started.
    """
    url = settings.label_studio_url.rstrip("/")
    if settings.label_studio_token is not None and settings.label_studio_token.get_secret_value():
        return url, settings.label_studio_token.get_secret_value()
    path = data_dir(settings) / CREDENTIALS_FILE
    if not path.exists():
        raise LabelStudioError(
            f"no Label Studio token: {path} does not exist. Start the local server with `minivess labelstudio up`, "
            "or set LABEL_STUDIO_URL and LABEL_STUDIO_API_KEY (or MINIVESS_LABEL_STUDIO_TOKEN) for a hosted one."
        )
    return url, load_or_create_credentials(path.parent).token
