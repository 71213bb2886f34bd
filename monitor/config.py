"""Load and validate ``config.yaml``: defaults deep-merged with the user's YAML.

Every problem raises :class:`~monitor.errors.ConfigError` naming the key path,
e.g. ``sources[2].url: not an http(s) URL``. Unknown keys are errors too, so a
typo never silently turns a setting off.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .digest import Calendar
from .errors import ConfigError
from .yamlfile import load_yaml

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)?\s*$")
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, None: 1}
MAX_DURATION = 365 * 86400.0  # longer waits overflow date arithmetic and mean "never" anyway
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(b|kb|mb|gb|kib|mib|gib)?\s*$", re.I)
_SIZE_UNITS = {None: 1, "b": 1, "kb": 1000, "mb": 1000**2, "gb": 1000**3,
               "kib": 1024, "mib": 1024**2, "gib": 1024**3}


@dataclass(frozen=True)
class Selectors:
    """CSS selectors that override automatic extraction for odd sites."""

    post: str
    title: str | None = None
    link: str | None = None
    date: str | None = None
    excerpt: str | None = None
    next: str | None = None


@dataclass(frozen=True)
class SourceConfig:
    name: str
    url: str
    type: str = "auto"  # auto | html | feed
    every: float = 3600.0  # seconds between polls
    max_pages: int = 5
    robots: bool = True  # respect robots.txt
    selectors: Selectors | None = None


@dataclass(frozen=True)
class FetchConfig:
    timeout: float = 20.0  # connect / read timeout, seconds
    deadline: float = 60.0  # total time for one request, seconds
    max_bytes: int = 10 * 1000**2  # after decompression
    max_redirects: int = 5
    per_host: int = 2  # requests in flight per host
    concurrency: int = 16  # sources fetched at once
    user_agent: str = ""  # "" = the default honest one
    backoff_max: float = 86400.0  # longest wait after repeated failures
    log_retention: float = 30 * 86400.0  # fetch_log rows older than this are deleted by each run


@dataclass(frozen=True)
class DigestConfig:
    week_ends_on: str = "friday"
    publish_at: str = "saturday 06:00"
    feed_size: int = 20
    empty_weeks: bool = False  # publish a digest for a week with no posts
    group_by: str = "none"  # none | author | outlet | day


@dataclass(frozen=True)
class ServeConfig:
    host: str = "127.0.0.1"
    port: int = 8000


@dataclass(frozen=True)
class EmailConfig:
    """``deliver.email``: where and how the weekly digest is mailed. Never holds the password itself:
    ``password_env`` names the environment variable that does (read when a message is sent)."""

    host: str
    port: int
    sender: str  # the From header, "Name <address>" or a bare address (the key is ``from``)
    to: tuple[str, ...]
    security: str = "starttls"  # starttls | ssl | none
    username: str | None = None
    password_env: str | None = None
    reply_to: str | None = None
    unsubscribe: str | None = None  # mailto:address or an http(s) URL
    timeout: float = 60.0  # the longest one message may take, connection included
    ca_file: Path | None = None  # trust this CA bundle (a private or self-signed server certificate)


@dataclass(frozen=True)
class DeliverConfig:
    email: EmailConfig | None = None
    notify: tuple[str, ...] = ()  # Apprise URLs


@dataclass(frozen=True)
class Config:
    site_title: str
    site_url: str
    database: Path
    output_dir: Path
    timezone: ZoneInfo
    digest: DigestConfig
    fetch: FetchConfig
    sources: tuple[SourceConfig, ...]
    serve: ServeConfig | None = None
    path: Path | None = None
    deliver: DeliverConfig = field(default_factory=DeliverConfig)

    def source(self, name: str) -> SourceConfig:
        for s in self.sources:
            if s.name == name:
                return s
        raise ConfigError("--source", f"no source named {name!r} (have: {', '.join(s.name for s in self.sources)})")

    @property
    def publish_weekday(self) -> int:
        return WEEKDAYS.index(self.digest.publish_at.split()[0].lower())

    @property
    def publish_time(self) -> dt.time:
        hh, mm = self.digest.publish_at.split()[1].split(":")
        return dt.time(int(hh), int(mm))

    @property
    def calendar(self) -> Calendar:
        """The site's week arithmetic (where weeks end, when each is published)."""
        return Calendar(self.digest.week_ends_on, self.publish_weekday, self.publish_time, self.timezone)


def parse_duration(value: Any, key: str) -> float:
    """``"1h"``, ``"30m"``, ``"2s"``, ``90`` (seconds) -> seconds."""
    if isinstance(value, bool):
        raise ConfigError(key, f"expected a duration like 30m, 1h or 2s, got {value!r}")
    if isinstance(value, (int, float)):
        seconds = float(value)
    elif isinstance(value, str) and (m := _DURATION.match(value)):
        seconds = float(m.group(1)) * _UNITS[m.group(2)]
    else:
        raise ConfigError(key, f"expected a duration like 30m, 1h or 2s, got {value!r}")
    if seconds <= 0:
        raise ConfigError(key, f"must be more than zero, got {value!r}")
    if not seconds <= MAX_DURATION:  # also .inf and .nan: a deadline that never ends is no deadline
        raise ConfigError(key, f"must be at most 365 days, got {value!r}")
    return seconds


def parse_size(value: Any, key: str) -> int:
    if isinstance(value, bool):
        raise ConfigError(key, f"expected a size like 10MB, got {value!r}")
    if isinstance(value, int):
        n = value
    elif isinstance(value, str) and (m := _SIZE.match(value)):
        n = int(float(m.group(1)) * _SIZE_UNITS[(m.group(2) or "").lower() or None])
    else:
        raise ConfigError(key, f"expected a size like 10MB, got {value!r}")
    if n <= 0:
        raise ConfigError(key, f"must be more than zero, got {value!r}")
    return n


def _http_url(value: Any, key: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(key, f"expected a URL, got {value!r}")
    value = value.strip()
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(key, f"not an http(s) URL: {value!r}")
    return str(value)


def _expect(value: Any, types: type | tuple[type, ...], key: str, what: str) -> Any:
    if isinstance(value, bool) and bool not in (types if isinstance(types, tuple) else (types,)):
        raise ConfigError(key, f"expected {what}, got {value!r}")
    if not isinstance(value, types):
        raise ConfigError(key, f"expected {what}, got {value!r}")
    return value


def _string(value: Any, key: str) -> str:
    _expect(value, str, key, "a string")
    if not value.strip():
        raise ConfigError(key, "must not be empty")
    return str(value).strip()


def _int(value: Any, key: str, lo: int, hi: int) -> int:
    _expect(value, int, key, "a whole number")
    if not lo <= value <= hi:
        raise ConfigError(key, f"must be between {lo} and {hi}, got {value}")
    return int(value)


def _bool(value: Any, key: str) -> bool:
    return bool(_expect(value, bool, key, "true or false"))


def _mapping(value: Any, key: str, allowed: set[str]) -> dict[str, Any]:
    if value is None:
        return {}
    _expect(value, dict, key, "a mapping")
    for k in value:
        if k not in allowed:
            path = f"{key}.{k}" if key else str(k)
            raise ConfigError(path, f"unknown key (allowed: {', '.join(sorted(allowed))})")
    return dict(value)


def _publish_at(value: Any, key: str) -> str:
    _expect(value, str, key, "a weekday and time like 'saturday 06:00'")
    m = re.fullmatch(r"\s*([a-zA-Z]+)\s+(\d{1,2}):(\d{2})\s*", value)
    if not m or m.group(1).lower() not in WEEKDAYS or int(m.group(2)) > 23 or int(m.group(3)) > 59:
        raise ConfigError(key, f"expected a weekday and time like 'saturday 06:00', got {value!r}")
    return f"{m.group(1).lower()} {int(m.group(2)):02d}:{m.group(3)}"


def _selectors(value: Any, key: str) -> Selectors | None:
    if value is None:
        return None
    fields = {"post", "title", "link", "date", "excerpt", "next"}
    raw = _mapping(value, key, fields)
    if "post" not in raw:
        raise ConfigError(f"{key}.post", "required when selectors are given")
    out = {k: _string(v, f"{key}.{k}") for k, v in raw.items()}
    from selectolax.lexbor import LexborHTMLParser

    probe = LexborHTMLParser("<html><body></body></html>")
    for k, sel in out.items():
        try:
            probe.css(sel)
        except Exception as e:  # selectolax raises a bare exception for bad CSS
            raise ConfigError(f"{key}.{k}", f"not a valid CSS selector: {sel!r} ({e})") from e
    return Selectors(**out)


def _source(raw: Any, i: int) -> SourceConfig:
    key = f"sources[{i}]"
    raw = _mapping(raw, key, {"name", "url", "type", "every", "max_pages", "robots", "selectors"})
    for required in ("name", "url"):
        if required not in raw:
            raise ConfigError(f"{key}.{required}", "required")
    stype = raw.get("type", "auto")
    if stype not in ("auto", "html", "feed"):
        raise ConfigError(f"{key}.type", f"must be one of auto, html, feed; got {stype!r}")
    return SourceConfig(
        name=_string(raw["name"], f"{key}.name"),
        url=_http_url(raw["url"], f"{key}.url"),
        type=stype,
        every=parse_duration(raw.get("every", "1h"), f"{key}.every"),
        max_pages=_int(raw.get("max_pages", 5), f"{key}.max_pages", 1, 1000),
        robots=_bool(raw.get("robots", True), f"{key}.robots"),
        selectors=_selectors(raw.get("selectors"), f"{key}.selectors"),
    )


_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_ADDRESS = re.compile(r"[^@\s<>\"(),;:]+@[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?")
SECURITY_PORTS = {"starttls": 587, "ssl": 465, "none": 25}


def _address(value: Any, key: str, *, named: bool = False) -> str:
    """An e-mail address (``named``: also ``Name <address>``), one line, as written."""
    from email.utils import parseaddr

    text = _string(value, key)
    if "\n" in text or "\r" in text:
        raise ConfigError(key, "must be one line")
    name, addr = parseaddr(text)
    if not _ADDRESS.fullmatch(addr) or (name and not named) or (not named and addr != text):
        what = "an e-mail address or Name <address>" if named else "an e-mail address"
        raise ConfigError(key, f"expected {what}, got {value!r}")
    return text


def _unsubscribe(value: Any, key: str) -> str:
    text = _string(value, key)
    if text.lower().startswith(("http://", "https://")):
        return _http_url(text, key)
    addr = text[7:] if text.lower().startswith("mailto:") else text
    if not _ADDRESS.fullmatch(addr.split("?", 1)[0]):
        raise ConfigError(key, f"expected an e-mail address, mailto: or an http(s) URL, got {value!r}")
    return "mailto:" + addr


def _email(value: Any, key: str, base_dir: Path) -> EmailConfig:
    allowed = {"host", "port", "security", "username", "password_env", "from", "to", "reply_to", "unsubscribe",
               "timeout", "ca_file"}
    if isinstance(value, dict) and "password" in value:
        raise ConfigError(f"{key}.password", "never put the password in the config: set it in an environment "
                          "variable and name that variable in password_env")
    raw = _mapping(value, key, allowed)
    for required in ("host", "from", "to"):
        if required not in raw:
            raise ConfigError(f"{key}.{required}", "required")
    security = raw.get("security", "starttls")
    if security not in SECURITY_PORTS:
        raise ConfigError(f"{key}.security", f"must be one of starttls, ssl, none; got {security!r}")
    to = raw["to"]
    if isinstance(to, str):
        to = [to]
    _expect(to, list, f"{key}.to", "a list of e-mail addresses")
    if not to:
        raise ConfigError(f"{key}.to", "must list at least one address")
    recipients = tuple(_address(a, f"{key}.to[{i}]") for i, a in enumerate(to))
    seen: dict[str, int] = {}
    for i, a in enumerate(recipients):
        if a.lower() in seen:
            raise ConfigError(f"{key}.to[{i}]", f"duplicate address {a!r} (also {key}.to[{seen[a.lower()]}])")
        seen[a.lower()] = i
    username = _string(raw["username"], f"{key}.username") if raw.get("username") is not None else None
    password_env = None
    if raw.get("password_env") is not None:
        password_env = _string(raw["password_env"], f"{key}.password_env")
        if not _ENV_NAME.fullmatch(password_env):
            raise ConfigError(f"{key}.password_env", f"expected the NAME of an environment variable, got "
                              f"{password_env!r}")
    if username and not password_env:
        raise ConfigError(f"{key}.password_env", "required with username: the environment variable that "
                          "holds the SMTP password")
    ca_file = None
    if raw.get("ca_file") is not None:
        ca_file = Path(_string(raw["ca_file"], f"{key}.ca_file"))
        ca_file = ca_file if ca_file.is_absolute() else base_dir / ca_file
        if not ca_file.is_file():
            raise ConfigError(f"{key}.ca_file", f"no such file: {ca_file}")
    return EmailConfig(
        host=_string(raw["host"], f"{key}.host"),
        port=_int(raw.get("port", SECURITY_PORTS[security]), f"{key}.port", 1, 65535),
        sender=_address(raw["from"], f"{key}.from", named=True),
        to=recipients,
        security=security,
        username=username,
        password_env=password_env,
        reply_to=_address(raw["reply_to"], f"{key}.reply_to", named=True) if raw.get("reply_to") else None,
        unsubscribe=_unsubscribe(raw["unsubscribe"], f"{key}.unsubscribe") if raw.get("unsubscribe") else None,
        timeout=parse_duration(raw.get("timeout", "60s"), f"{key}.timeout"),
        ca_file=ca_file,
    )


def _notify(value: Any, key: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        value = [value]
    _expect(value, list, key, "a list of Apprise URLs")
    urls = []
    for i, u in enumerate(value):
        u = _string(u, f"{key}[{i}]")
        if not re.match(r"^[A-Za-z][A-Za-z0-9+.-]*://\S", u) or any(c.isspace() for c in u):
            raise ConfigError(f"{key}[{i}]", "expected an Apprise URL like ntfy://topic or json://host/path")
        urls.append(u)
    if urls:
        from .deliver.notify import check_urls  # Apprise is imported only when notify is configured

        check_urls(urls, key)
    return tuple(urls)


def _deliver(value: Any, base_dir: Path) -> DeliverConfig:
    raw = _mapping(value, "deliver", {"email", "notify"})
    email = _email(raw["email"], "deliver.email", base_dir) if raw.get("email") is not None else None
    return DeliverConfig(email=email, notify=_notify(raw.get("notify"), "deliver.notify"))


TOP_KEYS = {"site", "database", "output_dir", "timezone", "digest", "fetch", "serve", "sources", "deliver"}


def parse_config(data: Any, *, base_dir: Path | None = None, path: Path | None = None) -> Config:
    """Validate an already-loaded YAML document. Relative paths resolve against ``base_dir``."""
    base_dir = base_dir or Path.cwd()
    data = _mapping(data, "", TOP_KEYS)
    site = _mapping(data.get("site"), "site", {"title", "url"})
    if "title" not in site:
        raise ConfigError("site.title", "required")
    site_title = _string(site["title"], "site.title")
    site_url = _http_url(site.get("url", "http://127.0.0.1:8000/"), "site.url")
    if not site_url.endswith("/"):
        site_url += "/"

    tzname = data.get("timezone", "UTC")
    _expect(tzname, str, "timezone", "an IANA time zone name like Europe/London")
    try:
        tz = ZoneInfo(tzname)
    except (ZoneInfoNotFoundError, ValueError) as e:
        raise ConfigError("timezone", f"unknown time zone {tzname!r}") from e

    d = _mapping(data.get("digest"), "digest", {"week_ends_on", "publish_at", "feed_size", "empty_weeks", "group_by"})
    week_ends_on = d.get("week_ends_on", "friday")
    if not isinstance(week_ends_on, str) or week_ends_on.lower() not in WEEKDAYS:
        raise ConfigError("digest.week_ends_on", f"must be a weekday name (monday … sunday), got {week_ends_on!r}")
    group_by = d.get("group_by", "none")
    if group_by not in ("none", "author", "outlet", "day"):
        raise ConfigError("digest.group_by", f"must be one of none, author, outlet, day; got {group_by!r}")
    digest = DigestConfig(
        week_ends_on=week_ends_on.lower(),
        publish_at=_publish_at(d.get("publish_at", "saturday 06:00"), "digest.publish_at"),
        feed_size=_int(d.get("feed_size", 20), "digest.feed_size", 1, 1000),
        empty_weeks=_bool(d.get("empty_weeks", False), "digest.empty_weeks"),
        group_by=group_by,
    )

    f = _mapping(data.get("fetch"), "fetch", {"timeout", "deadline", "max_bytes", "max_redirects",
                                              "per_host", "concurrency", "user_agent", "backoff_max",
                                              "log_retention"})
    fetch = FetchConfig(
        timeout=parse_duration(f.get("timeout", 20), "fetch.timeout"),
        deadline=parse_duration(f.get("deadline", 60), "fetch.deadline"),
        max_bytes=parse_size(f.get("max_bytes", "10MB"), "fetch.max_bytes"),
        max_redirects=_int(f.get("max_redirects", 5), "fetch.max_redirects", 0, 30),
        per_host=_int(f.get("per_host", 2), "fetch.per_host", 1, 64),
        concurrency=_int(f.get("concurrency", 16), "fetch.concurrency", 1, 1024),
        user_agent=_string(f["user_agent"], "fetch.user_agent") if "user_agent" in f else "",
        backoff_max=parse_duration(f.get("backoff_max", "1d"), "fetch.backoff_max"),
        log_retention=parse_duration(f.get("log_retention", "30d"), "fetch.log_retention"),
    )

    serve = None
    if data.get("serve") is not None:
        s = _mapping(data["serve"], "serve", {"host", "port"})
        serve = ServeConfig(
            host=_string(s.get("host", "127.0.0.1"), "serve.host"),
            port=_int(s.get("port", 8000), "serve.port", 0, 65535),
        )

    raw_sources = data.get("sources")
    if raw_sources is None:
        raise ConfigError("sources", "required: a list of sources to monitor")
    # an empty list is valid (the starter config of `monitor init` has one until `monitor add`);
    # fetching and running with no sources is refused by the commands themselves, with what to do
    _expect(raw_sources, list, "sources", "a list")
    sources = tuple(_source(s, i) for i, s in enumerate(raw_sources))
    seen: dict[str, int] = {}
    for i, src in enumerate(sources):
        if src.name in seen:
            raise ConfigError(f"sources[{i}].name",
                              f"duplicate source name {src.name!r} (also sources[{seen[src.name]}])")
        seen[src.name] = i

    def _path(key: str, default: str) -> Path:
        p = Path(_string(data.get(key, default), key))
        return p if p.is_absolute() else base_dir / p

    return Config(
        site_title=site_title,
        site_url=site_url,
        database=_path("database", "monitor.db"),
        output_dir=_path("output_dir", "site"),
        timezone=tz,
        digest=digest,
        fetch=fetch,
        sources=sources,
        serve=serve,
        path=path,
        deliver=_deliver(data.get("deliver"), base_dir),
    )


def load_config(path: str | Path) -> Config:
    """Read and validate a YAML config file; relative paths resolve against its folder."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as e:
        raise ConfigError("", f"config file not found: {path}") from e
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError("", f"cannot read config file {path}: {e}") from e
    data = load_yaml(text, path)  # libyaml when present; duplicate keys are errors
    if data is None:
        raise ConfigError("", f"{path} is empty")
    return parse_config(data, base_dir=path.resolve().parent, path=path)
