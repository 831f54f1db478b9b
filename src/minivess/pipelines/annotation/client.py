"""A label-studio-sdk client for the configured server (ours from `minivess labelstudio up`, or a hosted one)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from minivess.errors import LabelStudioError
from minivess.settings import Settings

if TYPE_CHECKING:
    from label_studio_sdk import LabelStudio

TIMEOUT_S = 30.0


def connect(settings: Settings) -> tuple[LabelStudio, str]:
    """A client and the server URL; checks that the server answers with our token.

    Raises:
        LabelStudioError: Not running, unreachable, or the token is refused; the message says what to do.
    """
    from label_studio_sdk import LabelStudio

    from minivess.pipelines.annotation.credentials import client_credentials

    url, token = client_credentials(settings)
    client = LabelStudio(base_url=url, api_key=token, timeout=TIMEOUT_S)  # type: ignore[no-untyped-call]
    try:
        client.projects.list(page_size=1)
    except Exception as exc:  # httpx errors, ApiError (401/403/5xx): all mean "cannot use the server now"
        raise LabelStudioError(
            f"Label Studio at {url} did not answer ({type(exc).__name__}: {str(exc)[:200]}); start it with "
            "`minivess labelstudio up` (or set LABEL_STUDIO_URL and LABEL_STUDIO_API_KEY for a hosted one)."
        ) from exc
    return client, url


@contextmanager
def server_errors(url: str, doing: str) -> Iterator[None]:
    """Turn an HTTP or API failure in the middle of ``doing`` into a LabelStudioError that says what to do.

    Raises:
        LabelStudioError: The server went away or refused a request.
    """
    import httpx
    from label_studio_sdk.core.api_error import ApiError

    try:
        yield
    except ApiError as exc:
        raise LabelStudioError(
            f"Label Studio at {url} refused a request while {doing} (HTTP {exc.status_code}: {str(exc.body)[:300]})."
        ) from exc
    except httpx.HTTPError as exc:
        raise LabelStudioError(
            f"Label Studio at {url} did not answer while {doing} ({type(exc).__name__}: {str(exc)[:200]}); "
            "what was done is kept and nothing is done twice: start it (`minivess labelstudio up`) and run the "
            "command again."
        ) from exc
