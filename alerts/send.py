"""Handing a message to apprise, with the idempotency key where the channel can carry it."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from concord.notify_urls import redact_channel_url

# Webhook-style schemes whose apprise plugins take extra headers (`+Name=value`) and, for JSON,
# extra payload fields (`:name=value`): there the key also travels outside the text.
HEADER_SCHEMES = {"json", "jsons", "xml", "xmls", "form", "forms"}
PAYLOAD_SCHEMES = {"json", "jsons"}


class SendFailed(Exception):
    pass


def with_idempotency(url: str, key: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in HEADER_SCHEMES:
        return url
    query = parse_qsl(parts.query, keep_blank_values=True)
    query.append(("+Idempotency-Key", key))
    if parts.scheme in PAYLOAD_SCHEMES:
        query.append((":idempotency_key", key))
    return urlunsplit(parts._replace(query=urlencode(query)))


def apprise_send(url: str, title: str, body: str, key: str, event: str = "opened") -> None:
    """Raise SendFailed with apprise's own reason (tokens scrubbed) when the service did not take it."""
    import apprise

    sender = apprise.Apprise()
    if not sender.add(with_idempotency(url, key)):
        raise SendFailed(f"apprise does not accept the channel URL {redact_channel_url(url)}")
    with apprise.LogCapture(level=apprise.logging.WARNING) as log:
        kind = apprise.NotifyType.SUCCESS if event == "resolved" else \
            apprise.NotifyType.INFO if event == "test" else apprise.NotifyType.FAILURE
        delivered = sender.notify(title=title, body=body, body_format=apprise.NotifyFormat.MARKDOWN, notify_type=kind)
        details = log.getvalue().strip()
    if not delivered:
        reason = details.splitlines()[-1] if details else "no reason given"
        raise SendFailed(_scrub(f"{redact_channel_url(url)} did not accept the message: {reason}", url))


def _scrub(text: str, url: str) -> str:
    """Apprise's messages may quote the URL; its path and credentials carry tokens."""
    parts = urlsplit(url)
    for secret in (url, parts.path, parts.password or "", parts.username or "", parts.query):
        if secret and len(secret) > 3:
            text = text.replace(secret, "…")
    return text
