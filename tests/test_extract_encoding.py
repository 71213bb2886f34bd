"""Bytes -> text for pages: BOM, HTTP charset, <meta>, UTF-8, windows-1252; never raises."""

from __future__ import annotations

import codecs
from zoneinfo import ZoneInfo

import pytest

from monitor.extract import extract
from monitor.extract.encoding import decode_html, detect_encoding

# Persian as windows-1256 can spell it (Arabic yeh/kaf: cp1256 has no U+06CC / U+06A9)
PERSIAN = "مسعود خدابنده: سازمان مجاهدين خلق در آلباني"
CURLY = "Rajavi’s “lies” – and more…"


def page(title: str, meta: str = "") -> str:
    return (f"<!DOCTYPE html><html><head>{meta}<title>{title}</title></head><body>"
            f"<article class='post hentry'><h2 class='entry-title'><a href='https://e.com/1/'>{title}</a></h2>"
            f"<time class='entry-date' datetime='2020-10-28'>28</time><p class='entry-summary'>{title} excerpt.</p>"
            f"</article></body></html>")


def test_windows_1256_declared_only_in_meta():
    body = page(PERSIAN, '<meta http-equiv="Content-Type" content="text/html; charset=windows-1256">').encode("cp1256")
    assert detect_encoding(body, {}) == "cp1256"
    assert PERSIAN in decode_html(body, {})
    (post,) = extract(body, url="https://e.com/", tz=ZoneInfo("Asia/Tehran")).posts
    assert post.title == PERSIAN


def test_windows_1252_declared_only_in_meta_charset():
    body = page(CURLY, '<meta charset="windows-1252">').encode("cp1252")
    (post,) = extract(body, url="https://e.com/", tz=ZoneInfo("UTC"), headers={"content-type": "text/html"}).posts
    assert post.title == CURLY


def test_header_that_contradicts_the_document():
    # the server says UTF-8; the bytes are windows-1256, as the page itself says
    body = page(PERSIAN, '<meta charset="windows-1256">').encode("cp1256")
    headers = {"Content-Type": "text/html; charset=UTF-8"}
    assert detect_encoding(body, headers) == "cp1256"
    (post,) = extract(body, url="https://e.com/", tz=ZoneInfo("UTC"), headers=headers).posts
    assert post.title == PERSIAN


def test_correct_header_beats_a_wrong_meta():
    body = page(PERSIAN, '<meta charset="utf-8">').encode("cp1256")
    assert detect_encoding(body, {"content-type": "text/html; charset=windows-1256"}) == "cp1256"


def test_latin1_header_on_a_utf8_page_that_says_so():
    body = page(CURLY, '<meta charset="utf-8">').encode("utf-8")
    headers = {"content-type": "text/html; charset=ISO-8859-1"}
    assert detect_encoding(body, headers) == "utf-8"
    assert CURLY in decode_html(body, headers)


def test_latin1_label_means_windows_1252():
    body = CURLY.encode("cp1252")
    assert decode_html(body, {"content-type": "text/html; charset=iso-8859-1"}) == CURLY


@pytest.mark.parametrize(
    ("bom", "codec"),
    [(codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be")],
)
def test_bom_wins_over_everything(bom, codec):
    body = bom + page(PERSIAN, '<meta charset="windows-1252">').encode(codec)
    headers = {"content-type": "text/html; charset=windows-1252"}
    text = decode_html(body, headers)
    assert PERSIAN in text and not text.startswith("\ufeff")
    (post,) = extract(body, url="https://e.com/", tz=ZoneInfo("UTC"), headers=headers).posts
    assert post.title == PERSIAN


def test_undeclared_utf8_and_undeclared_windows_1252():
    assert decode_html(CURLY.encode("utf-8"), None) == CURLY
    assert decode_html(CURLY.encode("cp1252"), None) == CURLY


def test_unknown_labels_and_garbage_never_raise():
    assert decode_html(b"caf\xe9", {"content-type": "text/html; charset=x-no-such-thing"}) == "café"
    assert decode_html(b"<meta charset='bogus'>\x81\x8d\xff", {}).endswith("\ufffd\ufffdÿ")
    assert decode_html(b"", {}) == ""


def test_meta_claiming_utf16_without_bom_means_utf8():
    body = '<meta charset="utf-16"><p>café</p>'.encode()
    assert detect_encoding(body, {}) == "utf-8"
