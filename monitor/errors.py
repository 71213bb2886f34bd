"""One exception base for the whole monitor, with typed branches.

Foreign errors (aiohttp, sqlite3, feedparser, OSError) are wrapped at the stage
boundary that meets them, with the cause chained (``raise ... from e``), so the
rest of the code and the user only ever see these types::

    MonitorError
     +-- ConfigError            bad config: names the key path (exit code 2)
     +-- SourceError            one source's run failed; never aborts the others
     |    +-- FetchError         the network part failed
     |    |    +-- ConnectFailed      refused, reset, DNS
     |    |    +-- FetchTimeout       connect/read timeout or total deadline
     |    |    +-- HTTPStatusError    4xx/5xx other than below (.status)
     |    |    |    +-- NotFound           404 / 410
     |    |    |    +-- RateLimited        429 / 503 (.retry_after seconds or None)
     |    |    +-- TooLarge           body over the cap (after decompression)
     |    |    +-- BadRedirect        loop, too many, or a non-http(s) target
     |    |    +-- RobotsDisallowed   robots.txt forbids the URL
     |    +-- ExtractError       the body could not be read as posts
     |         +-- FeedError          feed unusable (feedparser bozo, not recoverable)
     |         +-- NoPostsFound       no posts, or far fewer than before
     +-- StorageError           SQLite failed (locked, full disk, corrupt)
     +-- PublishError           writing the digest files failed
     +-- DeliveryError          one message to one recipient failed (.temporary)
     |    +-- TemporaryDeliveryError   SMTP 4xx, timeout, refused or dropped connection: retried
     |    +-- PermanentDeliveryError   SMTP 5xx: recorded and shown, not retried
     +-- AlreadyRunning         another ``monitor run`` holds the database

``NotModified`` is a signal, not an error: a 304 is a normal result.
"""

from __future__ import annotations

__all__ = [
    "AlreadyRunning",
    "BadRedirect",
    "ConfigError",
    "ConnectFailed",
    "DeliveryError",
    "ExtractError",
    "FeedError",
    "FetchError",
    "FetchTimeout",
    "HTTPStatusError",
    "MonitorError",
    "NoPostsFound",
    "NotFound",
    "PermanentDeliveryError",
    "PublishError",
    "RateLimited",
    "RobotsDisallowed",
    "SourceError",
    "StorageError",
    "TemporaryDeliveryError",
    "TooLarge",
]


class MonitorError(Exception):
    """Base of every error the monitor raises on purpose."""

    @property
    def reason(self) -> str:
        """A sentence a user can act on (what is shown in fetch/status/healthz)."""
        return str(self)


class ConfigError(MonitorError):
    """The configuration is invalid. ``key`` is the dotted path, e.g. ``sources[2].url``."""

    def __init__(self, key: str, problem: str):
        self.key = key
        self.problem = problem
        super().__init__(f"{key}: {problem}" if key else problem)


class SourceError(MonitorError):
    """One source's run failed. ``url`` is what was being read when it failed."""

    def __init__(self, message: str, *, url: str | None = None):
        self.url = url
        super().__init__(message)


class FetchError(SourceError):
    pass


class ConnectFailed(FetchError):
    pass


class FetchTimeout(FetchError):
    pass


class HTTPStatusError(FetchError):
    def __init__(self, message: str, *, url: str | None = None, status: int):
        self.status = status
        super().__init__(message, url=url)


class NotFound(HTTPStatusError):
    pass


class RateLimited(HTTPStatusError):
    def __init__(
        self,
        message: str,
        *,
        url: str | None = None,
        status: int,
        retry_after: float | None = None,
    ):
        self.retry_after = retry_after
        super().__init__(message, url=url, status=status)


class TooLarge(FetchError):
    pass


class BadRedirect(FetchError):
    pass


class RobotsDisallowed(FetchError):
    pass


class ExtractError(SourceError):
    pass


class FeedError(ExtractError):
    pass


class NoPostsFound(ExtractError):
    pass


class StorageError(MonitorError):
    pass


class PublishError(MonitorError):
    pass


class DeliveryError(MonitorError):
    """Sending one edition to one recipient failed. ``temporary`` says whether trying again later may work."""

    temporary = True


class TemporaryDeliveryError(DeliveryError):
    temporary = True


class PermanentDeliveryError(DeliveryError):
    temporary = False


class AlreadyRunning(MonitorError):
    pass
