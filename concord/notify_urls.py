"""Channel URLs are apprise's: a URL apprise cannot parse is a config error, caught at load time rather
than at 3 a.m. when the first alert should leave."""

from __future__ import annotations

from urllib.parse import urlsplit


def check_apprise_url(url: str) -> None:
    import apprise

    with apprise.LogCapture(level=apprise.logging.ERROR):  # the config error says it; apprise need not log it too
        accepted = apprise.Apprise.instantiate(url, suppress_exceptions=True)
    if accepted is None:
        scheme = urlsplit(url).scheme or "(none)"
        raise ValueError(f"apprise does not accept this channel URL (scheme '{scheme}'); see "
                         "https://github.com/caronc/apprise/wiki for the URL of each service, e.g. "
                         "'slack://TokenA/TokenB/TokenC/#channel' or 'json://host:port/path'")


def redact_channel_url(url: str) -> str:
    """Scheme and host only: channel URLs carry tokens, which never reach logs or pages."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname or '…'}/…"
