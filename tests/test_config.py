"""Config validation: every error names the key path and the problem."""

from pathlib import Path

import pytest
import yaml

from monitor.config import load_config, parse_config, parse_duration
from monitor.errors import ConfigError

ROOT = Path(__file__).resolve().parent.parent


def base(**over):
    data = {
        "site": {"title": "Iran Interlink", "url": "http://localhost:8000/"},
        "database": "m.db",
        "output_dir": "site",
        "timezone": "Europe/London",
        "digest": {"week_ends_on": "friday"},
        "sources": [
            {"name": "A", "url": "http://127.0.0.1:1/a/", "type": "auto", "every": "1h", "max_pages": 5},
            {"name": "B", "url": "http://127.0.0.1:1/b/"},
            {"name": "C", "url": "http://127.0.0.1:1/c/"},
        ],
    }
    data.update(over)
    return data


def test_shipped_config_is_valid_and_monitors_the_three_seed_authors():
    config = load_config(ROOT / "config.yaml")
    assert [s.name for s in config.sources] == ["Massoud Khodabandeh", "Iran Interlink", "Ali Alavi"]
    assert config.sources[0].url == (
        "https://iran-interlink.org/wordpress/author/?author=massoud-khodabandeh&authorid=4")
    assert config.site_title == "Iran Interlink"
    assert config.digest.week_ends_on == "friday"
    assert config.database == ROOT / "monitor.db"


def test_valid_config_resolves_defaults_and_units(tmp_path):
    c = parse_config(base(), base_dir=tmp_path)
    assert c.sources[0].every == 3600
    assert c.sources[1].type == "auto" and c.sources[1].max_pages == 5
    assert c.database == tmp_path / "m.db"
    assert c.fetch.max_bytes == 10_000_000
    assert c.publish_weekday == 5 and c.publish_time.hour == 6


@pytest.mark.parametrize("mutate, key, words", [
    (lambda d: d["sources"][2].update(url="ftp://example.org/x"), "sources[2].url", "not an http(s) URL"),
    (lambda d: d["sources"][2].update(url="javascript:alert(1)"), "sources[2].url", "not an http(s) URL"),
    (lambda d: d["sources"][1].update(name="A"), "sources[1].name", "duplicate source name"),
    (lambda d: d["sources"][0].update(every="soon"), "sources[0].every", "duration"),
    (lambda d: d["sources"][0].update(every=0), "sources[0].every", "more than zero"),
    (lambda d: d["sources"][0].update(max_pages="5"), "sources[0].max_pages", "whole number"),
    (lambda d: d["sources"][0].update(max_pages=0), "sources[0].max_pages", "between"),
    (lambda d: d["sources"][0].update(type="rss"), "sources[0].type", "auto, html, feed"),
    (lambda d: d["sources"][0].update(robots="yes"), "sources[0].robots", "true or false"),
    (lambda d: d["sources"][0].update(colour="red"), "sources[0].colour", "unknown key"),
    (lambda d: d["sources"][0].pop("url"), "sources[0].url", "required"),
    (lambda d: d["sources"][0].update(selectors={"title": "h2"}), "sources[0].selectors.post", "required"),
    (lambda d: d["sources"][0].update(selectors={"post": "div[[["}), "sources[0].selectors.post", "CSS"),
    (lambda d: d.update(timezone="Mars/Olympus"), "timezone", "unknown time zone"),
    (lambda d: d.update(timezone=5), "timezone", "expected"),
    (lambda d: d["digest"].update(week_ends_on="caturday"), "digest.week_ends_on", "weekday"),
    (lambda d: d["digest"].update(publish_at="someday 25:00"), "digest.publish_at", "weekday and time"),
    (lambda d: d["digest"].update(feed_size=-1), "digest.feed_size", "between"),
    (lambda d: d.update(site={"url": "http://x/"}), "site.title", "required"),
    (lambda d: d.update(site={"title": "X", "url": "file:///tmp"}), "site.url", "not an http(s) URL"),
    (lambda d: d.update(sources={"name": "A"}), "sources", "a list"),
    (lambda d: d.update(serve={"port": 70000}), "serve.port", "between"),
    (lambda d: d.update(fetch={"max_bytes": "lots"}), "fetch.max_bytes", "size"),
    (lambda d: d.update(fetch={"deadline": True}), "fetch.deadline", "duration"),
    (lambda d: d.update(databse="x.db"), "databse", "unknown key"),
])
def test_bad_config_names_key_and_problem(mutate, key, words):
    data = base()
    mutate(data)
    with pytest.raises(ConfigError) as exc:
        parse_config(data)
    assert exc.value.key == key
    assert words in str(exc.value)
    assert str(exc.value).startswith(f"{key}: ")


def test_load_config_reports_yaml_and_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("site: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(bad)
    good = tmp_path / "good.yaml"
    good.write_text(yaml.safe_dump(base()))
    assert load_config(good).database == tmp_path / "m.db"


@pytest.mark.parametrize("value, seconds", [("2s", 2), ("30m", 1800), ("1h", 3600), ("1d", 86400),
                                            (90, 90), ("1.5h", 5400), ("500ms", 0.5)])
def test_parse_duration(value, seconds):
    assert parse_duration(value, "k") == seconds


def test_an_empty_source_list_is_valid():
    # the starter config of `monitor init` has one until `monitor add`; fetch and run refuse it themselves
    data = base()
    data["sources"] = []
    assert parse_config(data).sources == ()
