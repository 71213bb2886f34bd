"""Writes the fixture pages and feeds in this folder, and their *.expected.json, from the seed captures.

Run it by hand (``python tests/data/extract/make_fixtures.py``) after changing a fixture's markup;
the tests only read the files it wrote. The expectations come from the seeds and the hand-checked
table ``EXPECT`` below (author, outlet and original date as each source line says, where each
excerpt starts and where it ends once the repeated title is gone), never from the extractor.
"""

import datetime as dt
import html as H
import json
import re
from pathlib import Path

SEEDS = str(Path(__file__).resolve().parents[3] / "monitor" / "demo" / "seeds") + "/"


def load(name):
    text = Path(SEEDS + name).read_text(encoding="utf-8")
    blocks = list(re.split(r"\n\s*\n", text))
    posts = []
    for i, b in enumerate(blocks):
        b = b.strip()
        if b.startswith("Posted on:"):
            title = blocks[i - 1].strip()
            date = b[len("Posted on:") :].strip()
            body = blocks[i + 1].strip() if i + 1 < len(blocks) else ""
            # seed 000's last post spans several lines before EOF
            j = i + 2
            while j < len(blocks) and not (
                j + 1 < len(blocks) and blocks[j + 1].strip().startswith("Posted on:")
            ):
                body += "\n" + blocks[j].strip()
                j += 1
            posts.append({"title": title, "posted": date, "body": body})
    return posts


def slug(title):
    s = re.sub(r"[^\w\s-]", "", title.lower().replace("’", "").replace("“", "").replace("”", ""))
    return re.sub(r"[\s_-]+", "-", s).strip("-")[:60]


# hand-checked: (author, outlet, original_date, excerpt_start, excerpt_end)
EXPECT = {
    "000": [
        (
            "Massoud Khodabandeh",
            "Iran Interlink",
            "2020-10-28",
            "leading up to the U.S. Presidential election",
            "by Murteza Hussain in The Intercept.",
        ),
        (
            "Massoud Khodabandeh",
            "Responsible Statecraft",
            "2020-04-25",
            "The Albanian authorities, including the security services",
            "to a public hospital in Tirana.”",
        ),
        (
            "Massoud Khodanbandeh",
            "Responsible Statecraft",
            "2020-01-09",
            "In another reckless act of overturning Obama’s legacy",
            "announce their abhorrence of the MEK.",
        ),
        (
            "Massoud Khodabandeh",
            "",
            "2020-01-07",
            "American actions are consolidating people",
            "the U.S. has their interests in mind.",
        ),
        (
            "Massoud Khodabandeh",
            "Lobe Log",
            "2019-08-23",
            "So, when Giuliani says we should be “comfortable”",
            "have any kind of future in Iran”.",
        ),
        (
            "Massoud Khodabandeh",
            "Middle East Strategy Consultants",
            "2019-04-14",
            "In July 2018 I wrote an article for the Balkans Post",
            "yet another murder in the west to Iran",
        ),
        (
            "Massoud Khodabandeh",
            "Middle East Strategy Consultants",
            "2019-02-25",
            "As the following articles show, the complex issue",
            "rather than the delusion of empire.",
        ),
        (
            "Massoud Khodabandeh",
            "",
            None,
            "This week’s Iran Interlink weekly digest had a few important point",
            "YOU ARE IN A CAVE DEAR.",
        ),
    ],
    "001": [
        (
            "Ted Snider",
            "Mondoweiss",
            "2020-10-27",
            "Two senior officials in the Obama administration",
            "and covert strikes will endure.",
        ),
        (
            "Gjergji Thanasi interviews Hadi Sani Khani",
            "Ashraf News, Tiranan, Albania",
            "2020-10-26",
            "Gjergji Thanasi interviews Hadi Sani Khani, 39 years old",
            "have identification and travel documents.",
        ),
        (
            "Ashraf News",
            "",
            "2020-10-24",
            "Ehssan Bedi disturbs the MEK with a dance",
            "kill Ehssan Bedi or deport him to Greece.",
        ),
        (
            "Juan Cole",
            "Common Dreams",
            "2020-10-22",
            "The People’s Jihadis (Mojahedin-e Khalq or MEK, MKO)",
            "to know if something is plausible.",
        ),
        (
            "Soraya Abdollahi",
            "Faragh Society",
            "2020-10-19",
            "We know that the internal situation of the Rajavi Cult",
            "so that no one dares to leave. […]",
        ),
        (
            "Gjergji Thanasi",
            "Ashraf News",
            "2020-10-18",
            "On the afternoon of Friday, October 1, 2020",
            "of the Albanian police to be disgraced.",
        ),
        (
            "Iran Interlink",
            "",
            "2020-10-16",
            "MEK on overdrive to claim Shajarian was working with MEK",
            "thrown out of his hotel lobby.",
        ),
        (
            "Mehrdad Torabi",
            "Medium",
            "2020-09-28",
            "Iranian forces carried out Defensive Operation Mersad",
            "began invading Iranian territory.",
        ),
        (
            "Iran Interlink",
            "",
            "2020-09-27",
            "In this case, a report about the massacre",
            "International reporting consistently ignores this.",
        ),
        (
            "Iran Interlink",
            "",
            "2020-09-16",
            "In his report, Mr. Ban urges those who express support",
            "in media and lobbying campaigns.",
        ),
    ],
    "002": [
        ("Ali Alavi", "Iran Interlink", "2021-10-29", "Speaking at a NCRI meeting is one way", None),
        (
            "Iran Interlink",
            "",
            "2021-09-17",
            "In its 57-year existence, the MEK has never held",
            "for life”. Not very democratic then.",
        ),
        (
            "Iran Interlink",
            "",
            "2021-09-12",
            "Albania’s Prime Minister, Edi Rama, has welcomed",
            "Mojahedin Khalq (MEK) is based there.",
        ),
        (
            "Human Rights Watch",
            "",
            "2021-09-06",
            "Ali Ghashghavi joined the MKO as a fighter",
            "of his experience during this period..",
        ),
        (
            "Ali Alavi",
            "Iran Interlink",
            "2019-04-03",
            "After Khodabandeh pointed out MEK’s “lack of wit”",
            "start a revolution. Not this time dear!",
        ),
        (
            "Ali Alavi",
            "Iran Interlink",
            "2019-03-03",
            "Reporters who talk about the MEK usually want",
            "because they don’t know anything else.",
        ),
    ],
}


def posts(seed):
    name = {
        "000": "000_1f2e45e805d1b7de.txt",
        "001": "001_22064f962f652436.txt",
        "002": "002_fd58d360e7ce22ec.txt",
    }[seed]
    ps = load(name)
    assert len(ps) == len(EXPECT[seed]), (seed, len(ps))
    for p, e in zip(ps, EXPECT[seed], strict=True):
        p["author"], p["outlet"], p["original_date"], p["excerpt_start"], p["excerpt_end"] = e
    return ps


def split_tail(body, title):
    """The seed body = source-line + excerpt + repeated title; return (prefix_text, trailing_title_or_None)
    by cutting the known repeated title text (hand-verified list)."""
    for t in TRAILING:
        if body.rstrip().endswith(t):
            return body.rstrip()[: -len(t)].rstrip(), t
    return body.rstrip(), None


# The trailing repeated-title link texts as they appear in the seeds (hand-copied).
TRAILING = [
    "Trump Campaign Uses Mujahedin-e-Khalq Troll Farm In Albania .",
    "MEK cult in Albania poses public health risk",
    "Tectonic Shift In World Order After Unforced Error By Trump",
    "Assassination of Qassem Soleimani End of Regime Change",
    "Nobody Can Be “Comfortable” With Regime Change Involving MEK",
    "Covert strikes against Iran recount Israeli campaign against Iraq",
    "What a terrorist I am , working 14 hours a day as a waiter!",
    "Ehsan Bidi In Albania After Maryam Rajavi’s Plots to Eliminate Him Fails.",
    "MEK Albanian Click Farm Likely Source of Pro-Trump Proud Boy Email Spoof",
    "Albanian police as Deputies in the service of former terrorist Rajavi",
    "Rajavi Insults Shajarian’s Memory",
    "MEK, the Most Hated Among Iranians — From Terror to Propaganda .",
    "MEK Manipulated Amnesty International",
    "MEK Deported From Iraq To Albania 4 Years Ago",
    "Lobbyist Mike Pence Mujahedin Saddam Hussein.",
    "Democracy MEK Style: Hypocrisy",
    "Afghan Refugees in Albania – Recruitment Fodder for the MEK.",
    "Human Rights Watch Report – MEK Survivor: I was Imprisoned For 45 days",
]


OUT = str(Path(__file__).resolve().parent) + "/"
e = H.escape


def texturize(s):  # how WordPress prints titles: curly quotes and dashes as numeric entities
    return (
        e(s, quote=False)
        .replace("’", "&#8217;")
        .replace("–", "&#8211;")
        .replace("“", "&#8220;")
        .replace("”", "&#8221;")
        .replace("—", "&#8212;")
        .replace("…", "&#8230;")
    )


def split_link(t):
    core = t.rstrip(" .")
    return core, t[len(core) :]


def expected_post(p, url, published, date_only, wp_id=None, excerpt_end=None, author=None):
    d = {
        "title": p["title"],
        "url": url,
        "published": published,
        "date_only": date_only,
        "author": author or p["author"],
        "outlet": p["outlet"],
        "original_date": p["original_date"],
        "excerpt_start": p["excerpt_start"],
    }
    end = p["excerpt_end"] if excerpt_end is None else excerpt_end
    if end:
        d["excerpt_end"] = end
    if wp_id is not None:
        d["wp_id"] = wp_id
    return d


def write(name, body, expected):
    Path(OUT + name).write_text(body, encoding="utf-8")
    stem = name.rsplit(".", 1)[0]
    text = json.dumps(expected, ensure_ascii=False, indent=1) + "\n"
    Path(OUT + stem + ".expected.json").write_text(text, encoding="utf-8")


BASE = "https://iran-interlink.org/wordpress/"

# 1. Iran Interlink text layout (seed 000) -----------------------------------------------------
ps = posts("000")
page_url = BASE + "author/?author=massoud-khodabandeh&authorid=4"
items = []
exp = []
for p in ps:
    url = BASE + slug(p["title"]) + "/"
    prefix, tail = split_tail(p["body"], p["title"])
    paras = prefix.split("\n")
    body = "".join(f"<p>{e(x)}</p>\n" for x in paras[:-1])
    last = e(paras[-1])
    if tail:
        core, punct = split_link(tail)
        last += f' <a href="{url}">{e(core)}</a>{e(punct)}'
    body += f"<p>{last}</p>\n"
    y, m, d = p["posted"].split("/")
    items.append(
        f'<h3 class="title"><a href="{url}" rel="bookmark">{e(p["title"])}</a></h3>\n'
        f'<p class="date">Posted on: {p["posted"]}</p>\n{body}<div class="clear"></div>\n'
    )
    exp.append(expected_post(p, url, f"{y}-{m}-{d}", True, excerpt_end=p["excerpt_end"], author=p["author"]))
doc = f'''<!DOCTYPE html>
<html lang="en-US">
<head>
<meta charset="UTF-8">
<title>Massoud Khodabandeh &#8211; Iran Interlink</title>
<link rel="alternate" type="application/rss+xml" title="Iran Interlink &raquo; Feed" href="https://iran-interlink.org/wordpress/feed/">
<link rel="alternate" type="application/rss+xml" title="Iran Interlink &raquo; Comments Feed" href="https://iran-interlink.org/wordpress/comments/feed/">
<link rel="alternate" type="application/rss+xml" title="Iran Interlink &raquo; Posts by Massoud Khodabandeh Feed" href="/wordpress/author/massoud-khodabandeh/feed/">
<style>.title{{font-size:1.2em}}</style>
<script>var ajaxurl = "Posted on: 1999/01/01";</script>
</head>
<body class="archive author author-massoud-khodabandeh author-4">
<div id="wrap">
<div id="top"><a href="https://iran-interlink.org/">Iran Interlink</a> | <a href="https://iran-interlink.org/?page_id=2">About</a> | <a href="https://iran-interlink.org/wordpress/contact/">Contact us</a></div>
<div id="content">
<h2 class="pagetitle">Author: Massoud Khodabandeh</h2>
<div class="author-info"><img src="/avatar/4.jpg" alt="Massoud Khodabandeh"><p>Massoud Khodabandeh</p><p>Massoud Khodabandeh</p>
<p>Massoud Khodabandeh Iranian born. Qualified in UK with MSc in Electrical Engineering. Has been member of Mojahedin Khalq, National Council of Resistance and a commander of the National Liberation Army serving as the head of security section of the organisation until he left in 1996.</p>
<p>Email: <a href="/cdn-cgi/l/email-protection#8ee3effdfdfbe1eaceeafbe5e6e1ebe3efa0ede1e3"><span class="__cf_email__" data-cfemail="8ee3effdfd">[email&#160;protected]</span></a></p>
<p>Twitter: <a href="https://twitter.com/ma_khodabandeh">ma_khodabandeh</a></p>
</div>
{"".join(items)}
<div class="navigation"><div class="alignleft"><a href="https://iran-interlink.org/wordpress/author/page/2/?author=massoud-khodabandeh&amp;authorid=4">&laquo; Older posts</a></div><div class="alignright"></div></div>
</div>
<div id="sidebar">
<h3>Recent Posts</h3>
<ul><li><a href="{BASE}recent-one/">Rajavi Insults Shajarian&#8217;s Memory &#8211; Iran Interlink Weekly Digest &#8211; Oct 16, 2020</a></li>
<li><a href="{BASE}recent-two/">MEK Manipulated Amnesty International</a></li></ul>
<h3>Archives</h3><ul><li><a href="{BASE}2020/10/">October 2020</a></li></ul>
</div>
<div id="footer"><p>Copyright &copy; 2020 Iran Interlink. Posted on: 2020/11/01</p></div>
</div>
</body>
</html>
'''
write(
    "iran_interlink_text.html",
    doc,
    {
        "url": page_url,
        "tz": "Europe/London",
        "kind": "html",
        "rule": "text",
        "author": "Massoud Khodabandeh",
        "next_url": "https://iran-interlink.org/wordpress/author/page/2/?author=massoud-khodabandeh&authorid=4",
        "feed_url": "https://iran-interlink.org/wordpress/author/massoud-khodabandeh/feed/",
        "posts": exp,
    },
)

# 2. classic theme (seed 001) -------------------------------------------------------------------
ps = posts("001")
page_url = BASE + "author/iran-interlink/"
arts = []
exp = []
for i, p in enumerate(ps):
    pid = 8123 - i * 7
    url = BASE + slug(p["title"]) + "/"
    y, m, d = p["posted"].split("/")
    iso = f"{y}-{m}-{d}T{9 + i % 8:02d}:15:00+00:00"
    text = " ".join(p["body"].split("\n"))
    comments = ["Leave a comment", "1 Comment", "5 Comments"][i % 3]
    arts.append(f'''
<article id="post-{pid}" class="post-{pid} post type-post status-publish format-standard hentry category-news tag-mek entry">
 <header class="entry-header alignwide">
  <h2 class="entry-title default-max-width"><a href="{url}">{texturize(p["title"])}</a></h2>
 </header>
 <div class="entry-content">
  <p>{e(text)} <a href="{url}" class="more-link">Continue reading<span class="screen-reader-text"> &#8220;{texturize(p["title"])}&#8221;</span></a></p>
  <div class="sharedaddy sd-sharing-enabled"><h3 class="sd-title">Share this:</h3><ul><li><a class="share-twitter" href="#">Twitter</a></li><li><a class="share-facebook" href="#">Facebook</a></li></ul></div>
 </div>
 <footer class="entry-footer default-max-width">
  <span class="byline"><svg class="svg-icon"><title>author</title></svg><span class="author vcard">By <a class="url fn n" href="{page_url}">Iran Interlink</a></span></span>
  <span class="posted-on">Published <time class="entry-date published" datetime="{iso}">{dt.date(int(y), int(m), int(d)).strftime("%B %-d, %Y")}</time><time class="updated" datetime="2021-01-02T03:04:05+00:00">January 2, 2021</time></span>
  <span class="cat-links">Categorized as <a href="{BASE}category/news/" rel="category tag">News</a></span>
  <span class="comments-link"><a href="{url}#comments">{comments}<span class="screen-reader-text"> on {texturize(p["title"])}</span></a></span>
 </footer>
</article>''')
    exp.append(expected_post(p, url, iso, False, wp_id=pid))
doc = f'''<!doctype html>
<html lang="en-GB" class="no-js">
<head>
<meta charset="UTF-8" />
<meta name="viewport" content="width=device-width, initial-scale=1" />
<title>Iran Interlink, Author at Iran Interlink</title>
<link rel="alternate" type="application/rss+xml" title="Iran Interlink &raquo; Feed" href="{BASE}feed/" />
<link rel="alternate" type="application/rss+xml" title="Iran Interlink &raquo; Comments Feed" href="{BASE}comments/feed/" />
<link rel="alternate" type="application/rss+xml" title="Iran Interlink &raquo; Posts by Iran Interlink Feed" href="{BASE}author/iran-interlink/feed/" />
<link rel="stylesheet" id="twenty-twenty-one-style-css" href="{BASE}wp-content/themes/twentytwentyone/style.css?ver=1.0" media="all" />
</head>
<body class="archive author author-iran-interlink author-2 wp-embed-responsive is-light-theme has-main-navigation">
<div id="page" class="site">
<a class="skip-link screen-reader-text" href="#content">Skip to content</a>
<header id="masthead" class="site-header has-title-and-tagline has-menu" role="banner">
 <div class="site-branding"><p class="site-title"><a href="{BASE}" rel="home">Iran Interlink</a></p><p class="site-description">Information about the Mojahedin Khalq cult, published on March 25, 2001</p></div>
 <nav id="site-navigation" class="primary-navigation" role="navigation" aria-label="Primary menu">
  <div class="primary-menu-container"><ul id="primary-menu-list" class="menu-wrapper">
   <li class="menu-item"><a href="{BASE}about/">About Iran Interlink and the Mojahedin Khalq</a></li>
   <li class="menu-item"><a href="{BASE}contact/">Contact the editors of this site</a></li>
  </ul></div>
 </nav>
</header>
<div id="content" class="site-content">
<div id="primary" class="content-area">
<main id="main" class="site-main">
<header class="page-header alignwide">
 <h1 class="page-title">Author: <span class="vcard">Iran Interlink</span></h1>
 <div class="author-description"><p>Aims of Iran-Interlink &#8211; to inform as widely as possible about the real nature of the Iranian Mojahedin Khalq cult.</p></div>
</header>
{"".join(arts)}
<nav class="navigation pagination" aria-label="Posts">
 <h2 class="screen-reader-text">Posts navigation</h2>
 <div class="nav-links"><span aria-current="page" class="page-numbers current">Page 1</span>
 <a class="page-numbers" href="{BASE}author/iran-interlink/page/2/">Page 2</a>
 <a class="next page-numbers" href="{BASE}author/iran-interlink/page/2/"><span class="nav-next-text">Older <span class="nav-short">posts</span></span></a></div>
</nav>
</main>
</div>
<aside class="widget-area">
 <section id="recent-posts-2" class="widget widget_recent_entries"><h2 class="widget-title">Recent Posts</h2>
  <ul>
   <li><a href="{BASE}recent-a/">A post that is only in the sidebar, with a long title</a><span class="post-date">November 2, 2020</span></li>
   <li><a href="{BASE}recent-b/">Another sidebar-only post title for testing</a><span class="post-date">November 1, 2020</span></li>
  </ul>
 </section>
 <section id="recent-comments-2" class="widget widget_recent_comments"><h2 class="widget-title">Recent Comments</h2><ul id="recentcomments"><li class="recentcomments"><span class="comment-author-link">Reader</span> on <a href="{BASE}covert/#comment-12">Covert strikes against Iran recount Israeli campaign against Iraq</a></li></ul></section>
</aside>
</div>
<footer id="colophon" class="site-footer" role="contentinfo">
 <div class="site-info"><div class="site-name">Iran Interlink</div><div class="powered-by">Proudly powered by <a href="https://wordpress.org/">WordPress</a>.</div></div>
</footer>
</div>
</body>
</html>
'''
write(
    "classic_twentytwentyone.html",
    doc,
    {
        "url": page_url,
        "tz": "Europe/London",
        "kind": "html",
        "rule": "hatom",
        "author": "Iran Interlink",
        "next_url": BASE + "author/iran-interlink/page/2/",
        "feed_url": BASE + "author/iran-interlink/feed/",
        "posts": exp,
    },
)

# 3. block theme (seed 002) ---------------------------------------------------------------------
ps = posts("002")
page_url = BASE + "author/ali-alavi/"
lis = []
exp = []
for i, p in enumerate(ps):
    pid = 5501 - i * 11
    url = BASE + slug(p["title"]) + "/"
    y, m, d = p["posted"].split("/")
    iso = f"{y}-{m}-{d}T08:00:00+00:00"
    text = " ".join(p["body"].split("\n"))
    lis.append(f'''<li class="wp-block-post post-{pid} post type-post status-publish format-standard hentry category-articles">
<div class="wp-block-group is-layout-flow wp-block-group-is-layout-flow">
<h2 class="wp-block-post-title has-x-large-font-size"><a href="{url}" target="_self">{texturize(p["title"])}</a></h2>
<div class="wp-block-post-excerpt"><p class="wp-block-post-excerpt__excerpt">{e(text)} </p><p class="wp-block-post-excerpt__more-text"><a class="wp-block-post-excerpt__more-link" href="{url}">Continue reading</a></p></div>
<div class="wp-block-template-part"><div class="wp-block-group is-layout-flex"><div class="wp-block-post-date"><time datetime="{iso}"><a href="{url}">{dt.date(int(y), int(m), int(d)).strftime("%b %d, %Y")}</a></time></div>
<p class="has-small-font-size">&mdash;</p><div class="wp-block-post-author-name"><a href="{page_url}" target="_self" class="wp-block-post-author-name__link">Iran Interlink Editor</a></div>
<div class="wp-block-post-terms"><a href="{BASE}category/articles/" rel="tag">Articles</a></div></div></div>
</div>
</li>''')
    end = p["excerpt_end"]
    if i == 0:
        end = "on behalf of foreign powers .Lobbyist Mike Pence Mujahedin Saddam Hussein."  # plain text: kept
    exp.append(expected_post(p, url, iso, False, wp_id=pid, excerpt_end=end))
doc = f'''<!DOCTYPE html>
<html lang="en-US">
<head>
<meta charset="UTF-8" />
<meta name="viewport" content="width=device-width, initial-scale=1" />
<title>Ali Alavi &#8211; Iran Interlink</title>
<link rel="alternate" type="application/rss+xml" title="Iran Interlink &raquo; Feed" href="{BASE}feed/" />
<link rel="alternate" type="application/rss+xml" title="Iran Interlink &raquo; Posts by Ali Alavi Feed" href="{BASE}author/ali-alavi/feed/" />
</head>
<body class="archive author author-ali-alavi author-7 wp-embed-responsive">
<div class="wp-site-blocks">
<header class="wp-block-template-part">
<div class="wp-block-group alignwide has-base-background-color"><div class="wp-block-group is-layout-flex">
<p class="wp-block-site-title"><a href="{BASE}" target="_self" rel="home">Iran Interlink</a></p>
<nav class="is-responsive items-justified-right wp-block-navigation" aria-label=""><ul class="wp-block-navigation__container"><li class="wp-block-navigation-item wp-block-page-list"><a class="wp-block-navigation-item__content" href="{BASE}about-iran-interlink/"><span class="wp-block-navigation-item__label">About Iran Interlink and its editors</span></a></li></ul></nav>
</div></div>
</header>
<main class="wp-block-group is-layout-constrained">
<div class="wp-block-group alignwide"><h1 class="wp-block-query-title">Author: <span>Ali Alavi</span></h1>
<div class="wp-block-post-author-biography">Anne Anne, [13.03.19 11:20] I am Ali Alavi and I have an academic background but not to do with politics.</div></div>
<div class="wp-block-query alignfull is-layout-flow">
<ul class="columns-3 alignfull wp-block-post-template is-layout-grid wp-container-core-post-template-is-layout-1 wp-block-post-template-is-layout-grid">
{"".join(lis)}
</ul>
<nav class="alignwide wp-block-query-pagination is-content-justification-space-between is-layout-flex" aria-label="Pagination">
<div class="wp-block-query-pagination-numbers"><span aria-current="page" class="page-numbers current">1</span>
<a class="page-numbers" href="{BASE}author/ali-alavi/page/2/">2</a></div>
<a href="{BASE}author/ali-alavi/page/2/" class="wp-block-query-pagination-next">Next Page<span class="wp-block-query-pagination-next-arrow is-arrow-arrow" aria-hidden="true">→</span></a>
</nav>
</div>
</main>
<footer class="wp-block-template-part"><div class="wp-block-group"><h2 class="wp-block-heading">Blog</h2><ul><li><a href="{BASE}blog/">Blog of the editors</a></li></ul><p>Designed with WordPress, first published 12 March 2019</p></div></footer>
</div>
</body>
</html>
'''
write(
    "block_twentytwentyfour.html",
    doc,
    {
        "url": page_url,
        "tz": "Europe/London",
        "kind": "html",
        "rule": "block",
        "author": "Ali Alavi",
        "next_url": BASE + "author/ali-alavi/page/2/",
        "feed_url": BASE + "author/ali-alavi/feed/",
        "posts": exp,
    },
)

# 4. text layout: one date per day, several date formats, <br>-separated lines ---------------------
page_url = "http://blog.example.com/author/anne/"
doc = """<html><head><title>Anne Singleton | Example Blog</title></head>
<body>
<table width="100%"><tr><td class="main">
<p><b>Author: Anne Singleton</b></p>
<p><a href="/2020/10/28/first/">MEK recruits in Albanian refugee camps</a><br>
Posted on: 2020/10/28<br>
Anne Singleton, Iran Interlink, October 28 2020:&#8230; The first item of the day, about recruitment in the camps near Durres. MEK recruits in Albanian refugee camps</p>
<p><a href="/2020/10/28/second/">Second item on the same day</a><br>
Posted on:<br>
Anne Singleton, Iran Interlink, October 28 2020:... The second item; WordPress printed no date for it because the post above is from the same day.</p>
<p><a href="/2020/10/27/third/">A dashed date &#8211; ISO style</a><br>
Posted on: 2020-10-27<br>
No source line here, just a plain excerpt of the third item that is long enough to read.</p>
<p><a href="/2020/10/26/fourth/">Written out date</a><br>
Posted on October 26, 2020<br>
Tasnim News October 26 2020:&#8230; An outlet-only source line, without a comma.</p>
<p><a href="/2020/10/26/fifth/">Fifth, same day again</a><br>
Posted on:<br>
The fifth excerpt.<br><a href="/2020/10/26/fifth/#comments">3 Comments</a></p>
<p><a href="/2020/10/25/sixth/">Day first</a><br>
Posted on 25 October 2020<br>
Massoud Khodabandeh, Middle East Strategy Consultants, UK, October 25 2020:&#8230;  An outlet with a comma and  double  spaces.</p>
<p><a href="/page/2/">Older Entries</a></p>
</td><td class="side" width="200"><p>Links</p></td></tr></table>
</body></html>
"""
exp = [
    {
        "title": "MEK recruits in Albanian refugee camps",
        "url": "http://blog.example.com/2020/10/28/first/",
        "published": "2020-10-28",
        "date_only": True,
        "author": "Anne Singleton",
        "outlet": "Iran Interlink",
        "original_date": "2020-10-28",
        "excerpt_start": "The first item of the day",
        "excerpt_end": "about recruitment in the camps near Durres.",
    },
    {
        "title": "Second item on the same day",
        "url": "http://blog.example.com/2020/10/28/second/",
        "published": "2020-10-28",
        "date_only": True,
        "author": "Anne Singleton",
        "outlet": "Iran Interlink",
        "original_date": "2020-10-28",
        "excerpt_start": "The second item;",
        "excerpt_end": "from the same day.",
    },
    {
        "title": "A dashed date – ISO style",
        "url": "http://blog.example.com/2020/10/27/third/",
        "published": "2020-10-27",
        "date_only": True,
        "author": "Anne Singleton",
        "outlet": "",
        "original_date": None,
        "excerpt_start": "No source line here",
        "excerpt_end": "long enough to read.",
    },
    {
        "title": "Written out date",
        "url": "http://blog.example.com/2020/10/26/fourth/",
        "published": "2020-10-26",
        "date_only": True,
        "author": "Tasnim News",
        "outlet": "",
        "original_date": "2020-10-26",
        "excerpt_start": "An outlet-only source line",
        "excerpt_end": "without a comma.",
    },
    {
        "title": "Fifth, same day again",
        "url": "http://blog.example.com/2020/10/26/fifth/",
        "published": "2020-10-26",
        "date_only": True,
        "author": "Anne Singleton",
        "outlet": "",
        "original_date": None,
        "excerpt_start": "The fifth excerpt.",
        "excerpt_end": "The fifth excerpt.",
    },
    {
        "title": "Day first",
        "url": "http://blog.example.com/2020/10/25/sixth/",
        "published": "2020-10-25",
        "date_only": True,
        "author": "Massoud Khodabandeh",
        "outlet": "Middle East Strategy Consultants, UK",
        "original_date": "2020-10-25",
        "excerpt_start": "An outlet with a comma and double spaces.",
        "excerpt_end": "double spaces.",
    },
]
write(
    "text_same_day.html",
    doc,
    {
        "url": page_url,
        "tz": "Asia/Tehran",
        "kind": "html",
        "rule": "text",
        "author": "Anne Singleton",
        "next_url": "http://blog.example.com/page/2/",
        "feed_url": None,
        "posts": exp,
    },
)

# 5. unknown theme: cards with invented class names (seed 000, first five posts) --------------------
ps = posts("000")[:5]
page_url = "https://magazine.example.org/writers/massoud-khodabandeh/"
cards = []
exp = []
for i, p in enumerate(ps):
    url = f"https://magazine.example.org/{p['posted'].replace('/', '/')}/{slug(p['title'])}/?utm_source=list"
    y, m, d = p["posted"].split("/")
    text = " ".join(p["body"].split("\n"))
    day = dt.date(int(y), int(m), int(d))
    cards.append(f'''
  <div class="c-card c-card--post{" c-card--featured" if i == 0 else ""}" data-id="{100 + i}">
    <div class="c-card__media"><a href="{url}"><img src="/img/{i}.jpg" alt=""></a></div>
    <div class="c-card__body">
      <div class="c-card__kicker"><a href="/topics/mek/">MEK</a></div>
      <h3 class="c-card__heading"><a href="{url}">{e(p["title"])}</a></h3>
      <div class="c-card__info"><span class="c-card__when">{day.strftime("%d %B %Y")}</span> &middot; <a href="{url}#respond">{i} Comments</a> &middot; <span>{i + 2} days ago</span></div>
      <p class="c-card__text">{e(text)}</p>
      <a class="c-card__cta" href="{url}">Read More &raquo;</a>
      <div class="c-card__tools"><a href="https://twitter.com/intent/tweet?url={url}">Tweet</a> <a href="mailto:?body={url}">Email</a></div>
    </div>
  </div>''')
    exp.append(expected_post(p, url, f"{y}-{m}-{d}", True))
doc = f"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Massoud Khodabandeh | The Example Magazine</title>
<link rel="alternate" type="application/rss+xml" title="The Example Magazine" href="/rss.xml">
</head>
<body class="l-page">
<div class="l-top"><div class="brand"><a href="/">The Example Magazine</a></div>
<ul class="l-links"><li><a href="/world/">World news from every region</a></li><li><a href="/opinion/">Opinion and analysis from our writers</a></li><li><a href="/about/">About the Example Magazine</a></li></ul></div>
<div class="l-body">
 <div class="l-main">
  <div class="profile"><h1 class="profile__name">Massoud Khodabandeh</h1><p class="profile__bio">Writer and researcher on Middle East issues since 2004, based in the UK.</p></div>
  <div class="c-stream">{"".join(cards)}
  </div>
  <div class="c-pager"><a class="c-pager__more" href="/writers/massoud-khodabandeh/?pg=2">Older posts</a></div>
 </div>
 <div class="l-rail">
  <div class="c-box"><h4>Most read this week</h4>
   <div class="c-mini"><a href="/2020/10/30/one/">Popular story about Albania and the camp</a><span class="c-mini__date">30 October 2020</span></div>
   <div class="c-mini"><a href="/2020/10/29/two/">Another popular story about the region</a><span class="c-mini__date">29 October 2020</span></div>
   <div class="c-mini"><a href="/2020/10/29/three/">A third popular story for the rail box</a><span class="c-mini__date">29 October 2020</span></div>
  </div>
 </div>
</div>
<div class="l-bottom"><p>&copy; 2020 The Example Magazine &middot; <a href="/privacy/">Privacy policy for readers</a></p></div>
</body></html>
"""
write(
    "unknown_cards.html",
    doc,
    {
        "url": page_url,
        "tz": "Europe/London",
        "kind": "html",
        "rule": "generic",
        "author": None,
        "next_url": "https://magazine.example.org/writers/massoud-khodabandeh/?pg=2",
        "feed_url": "https://magazine.example.org/rss.xml",
        "posts": exp,
    },
)

# 6. unknown: hand-written div.item list, no headings (seed 001, first six) --------------------------
ps = posts("001")[:6]
page_url = "http://members.example.net/~ii/news.html"
items = []
exp = []
for p in ps:
    url = f"http://members.example.net/~ii/news/{slug(p['title'])}.html"
    y, m, d = p["posted"].split("/")
    prefix, tail = split_tail(p["body"], p["title"])
    items.append(f"""<div class="item">
<a href="news/{slug(p["title"])}.html" class="t">{e(p["title"])}</a><br>
<small>{y}-{m}-{d}</small>
<div>{e(" ".join(p["body"].split(chr(10))))}</div>
</div>
""")
    exp.append(expected_post(p, url, f"{y}-{m}-{d}", True, author=p["author"]))
doc = f"""<html>
<head><title>News</title></head>
<body bgcolor="#ffffff">
<center><font size="+2">Iran Interlink mirror &ndash; News</font></center>
<hr>
<div class="item-list">
{"".join(items)}
</div>
<hr>
<div class="links">
<p><a href="http://www.example.com/">An external website with a long name</a></p>
<p><a href="http://www.example.org/">Another external website with long name</a></p>
<p><a href="http://www.example.edu/">A third external website with a long name</a></p>
</div>
<p><a href="news2.html">Next page</a></p>
</body></html>
"""
write(
    "unknown_items.html",
    doc,
    {
        "url": page_url,
        "tz": "UTC",
        "kind": "html",
        "rule": "generic",
        "author": None,
        "next_url": "http://members.example.net/~ii/news2.html",
        "feed_url": None,
        "posts": exp,
    },
)

# 7. unknown: flat headings with loose paragraphs (seed 002) ----------------------------------------
ps = posts("002")
page_url = "https://alialavi.example.com/"
parts = []
exp = []
for i, p in enumerate(ps):
    url = f"https://alialavi.example.com/{slug(p['title'])}"
    y, m, d = p["posted"].split("/")
    day = dt.date(int(y), int(m), int(d))
    prefix, tail = split_tail(p["body"], p["title"])
    last = e(prefix)
    if tail:
        core, punct = split_link(tail)
        last += f' <a href="{url}">{e(core)}</a>{e(punct)}'
    parts.append(f'''<h2><a href="{url}">{e(p["title"])}</a></h2>
<p><em>by Ali Alavi &middot; {day.strftime("%B %d, %Y")} &middot; <a href="{url}#comments">{i} comments</a></em></p>
<p>{last}</p>
''')
    end = p["excerpt_end"]
    if i == 0:
        end = "on behalf of foreign powers."  # the reworded repeat is a link here: recognised
    exp.append(expected_post(p, url, f"{y}-{m}-{d}", True, excerpt_end=end))
doc = f"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Ali Alavi's notes</title></head>
<body>
<div id="wrapper">
<div id="head"><h1>Ali Alavi's notes</h1><p>Notes about the MEK and Iran</p></div>
<div id="posts">
{"".join(parts)}
<p><a href="/?paged=2">&laquo; Older Entries</a></p>
</div>
</div>
</body></html>
"""
write(
    "unknown_flat_headings.html",
    doc,
    {
        "url": page_url,
        "tz": "Europe/London",
        "kind": "html",
        "rule": "generic",
        "author": None,
        "next_url": "https://alialavi.example.com/?paged=2",
        "feed_url": None,
        "posts": exp,
    },
)

# 8. RSS 2.0 author feed (seed 001, ten items) ------------------------------------------------------
ps = posts("001")
items = []
exp = []
for i, p in enumerate(ps):
    pid = 8123 - i * 7
    url = BASE + slug(p["title"]) + "/"
    y, m, d = p["posted"].split("/")
    day = dt.datetime(int(y), int(m), int(d), 9 + i % 8, 15, tzinfo=dt.UTC)
    text = " ".join(p["body"].split("\n"))
    desc = texturize(text)
    items.append(f'''	<item>
		<title>{texturize(p["title"])}</title>
		<link>{url}</link>
		<comments>{url}#respond</comments>
		<dc:creator><![CDATA[Iran Interlink]]></dc:creator>
		<pubDate>{day.strftime("%a, %d %b %Y %H:%M:%S +0000")}</pubDate>
		<category><![CDATA[News]]></category>
		<guid isPermaLink="false">{BASE}?p={pid}</guid>
		<description><![CDATA[{desc}]]></description>
		<content:encoded><![CDATA[<p>{texturize(text)}</p>
<p>Source: <a href="{url}">{texturize(p["title"])}</a></p>]]></content:encoded>
		<wfw:commentRss>{url}feed/</wfw:commentRss>
		<slash:comments>{i % 3}</slash:comments>
		<post-id xmlns="com-wordpress:feed-additions:1">{pid}</post-id>
	</item>
''')
    exp.append(
        expected_post(p, url, day.isoformat(), False, wp_id=pid)
        | {"guid": f"{BASE}?p={pid}", "content_start": f"<p>{texturize(text)[:40]}"}
    )
doc = f'''<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"
	xmlns:content="http://purl.org/rss/1.0/modules/content/"
	xmlns:wfw="http://wellformedweb.org/CommentAPI/"
	xmlns:dc="http://purl.org/dc/elements/1.1/"
	xmlns:atom="http://www.w3.org/2005/Atom"
	xmlns:sy="http://purl.org/rss/1.0/modules/syndication/"
	xmlns:slash="http://purl.org/rss/1.0/modules/slash/"
	>

<channel>
	<title>Iran Interlink &#187; Iran Interlink</title>
	<atom:link href="{BASE}author/iran-interlink/feed/" rel="self" type="application/rss+xml" />
	<link>{BASE}</link>
	<description>Iran Interlink</description>
	<lastBuildDate>Wed, 28 Oct 2020 10:00:00 +0000</lastBuildDate>
	<language>en-GB</language>
	<sy:updatePeriod>hourly</sy:updatePeriod>
	<sy:updateFrequency>1</sy:updateFrequency>
	<generator>https://wordpress.org/?v=5.5.3</generator>
{"".join(items)}</channel>
</rss>
'''
write(
    "rss_author_feed.xml",
    doc,
    {
        "url": BASE + "author/iran-interlink/feed/",
        "tz": "Europe/London",
        "kind": "feed",
        "rule": "rss",
        "author": "Iran Interlink",
        "next_url": None,
        "feed_url": None,
        "posts": exp,
    },
)

# 9. Atom feed (seed 002): summary as escaped HTML with the title link at its end -----------------------
ps = posts("002")
entries = []
exp = []
for i, p in enumerate(ps):
    pid = 5501 - i * 11
    url = BASE + slug(p["title"]) + "/"
    y, m, d = p["posted"].split("/")
    local = dt.datetime(int(y), int(m), int(d), 11, 30, tzinfo=dt.timezone(dt.timedelta(hours=3, minutes=30)))
    prefix, tail = split_tail(p["body"], p["title"])
    summary = e(prefix)
    if tail:
        core, punct = split_link(tail)
        summary += f' <a href="{url}">{e(core)}</a>{e(punct)}'
    dates = (
        f"<published>{local.isoformat()}</published><updated>{local.isoformat()}</updated>"
        if i != 3
        else f"<updated>{local.isoformat()}</updated>"
    )
    entries.append(f'''<entry>
  <author><name>Ali Alavi</name><uri>{BASE}author/ali-alavi/</uri></author>
  <title type="html"><![CDATA[{texturize(p["title"])}]]></title>
  <link rel="alternate" type="text/html" href="{url}"/>
  <id>{BASE}?p={pid}</id>
  {dates}
  <category scheme="{BASE}" term="Articles"/>
  <summary type="html"><![CDATA[{summary}]]></summary>
  <content type="html" xml:base="{url}"><![CDATA[<p>{e(p["body"])}</p>]]></content>
</entry>
''')
    utc = local.astimezone(dt.UTC)
    end = "on behalf of foreign powers." if i == 0 else p["excerpt_end"]
    exp.append(
        expected_post(p, url, utc.isoformat(), False, wp_id=pid, excerpt_end=end)
        | {"guid": f"{BASE}?p={pid}"}
    )
doc = f'''<?xml version="1.0" encoding="UTF-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="en-US" xml:base="{BASE}wp-atom.php">
  <title type="text">Iran Interlink</title>
  <subtitle type="text">Posts by Ali Alavi</subtitle>
  <updated>2021-10-29T08:00:00Z</updated>
  <link rel="alternate" type="text/html" href="{BASE}author/ali-alavi/"/>
  <link rel="self" type="application/atom+xml" href="{BASE}author/ali-alavi/feed/atom/"/>
  <link rel="next" type="application/atom+xml" href="{BASE}author/ali-alavi/feed/atom/?paged=2"/>
  <id>{BASE}author/ali-alavi/feed/atom/</id>
  <generator uri="https://wordpress.org/" version="5.8">WordPress</generator>
{"".join(entries)}</feed>
'''
write(
    "atom_feed.xml",
    doc,
    {
        "url": BASE + "author/ali-alavi/feed/atom/",
        "tz": "Europe/London",
        "kind": "feed",
        "rule": "atom",
        "author": "Ali Alavi",
        "next_url": BASE + "author/ali-alavi/feed/atom/?paged=2",
        "feed_url": None,
        "posts": exp,
    },
)

# 10. Divi-like blog module (seed 000, posts 4-8): theme classes we never special-cased ---------------
ps = posts("000")[3:]
page_url = "https://www.khodabandeh.example/blog/"
arts = []
exp = []
for i, p in enumerate(ps):
    pid = 900 + i
    url = f"https://www.khodabandeh.example/{slug(p['title'])}/"
    y, m, d = p["posted"].split("/")
    day = dt.date(int(y), int(m), int(d))
    text = " ".join(p["body"].split("\n"))
    arts.append(f'''<article id="post-{pid}" class="et_pb_post clearfix et_pb_blog_item_0_{i} post-{pid} post type-post status-publish format-standard has-post-thumbnail hentry category-articles">
<a href="{url}" class="entry-featured-image-url"><img loading="lazy" src="/wp-content/uploads/{pid}.jpg" alt="{e(p["title"])}" width="1080" height="675"></a>
<h2 class="entry-title"><a href="{url}">{texturize(p["title"])}</a></h2>
<p class="post-meta"> by <span class="author vcard"><a href="/author/massoud/" title="Posts by Massoud" rel="author">Massoud</a></span> | <span class="published">{day.strftime("%b %-d, %Y")}</span> | <a href="/category/articles/" rel="category tag">Articles</a> | {i} comments</p>
<div class="post-content"><div class="post-content-inner"><p>{e(text)}</p></div><a href="{url}" class="more-link">read more</a></div>
</article>''')
    # no source line on the last one: its author is the post's byline ("by Massoud")
    exp.append(
        expected_post(
            p, url, f"{y}-{m}-{d}", True, wp_id=pid, author=p["author"] if p["original_date"] else "Massoud"
        )
    )
doc = f"""<!DOCTYPE html>
<html lang="en-GB"><head><meta charset="UTF-8"><title>Blog | Massoud Khodabandeh</title>
<link rel="alternate" type="application/rss+xml" title="Massoud Khodabandeh &raquo; Feed" href="https://www.khodabandeh.example/feed/">
<link rel="alternate" type="application/rss+xml" title="Massoud Khodabandeh &raquo; Comments Feed" href="https://www.khodabandeh.example/comments/feed/">
</head>
<body class="blog et_pb_button_helper_class et_fixed_nav et_show_nav et_primary_nav_dropdown_animation_fade et_right_sidebar et_divi_theme">
<div id="page-container">
<header id="main-header" data-height-onload="66"><div class="container clearfix et_menu_container">
<nav id="top-menu-nav"><ul id="top-menu" class="nav"><li class="menu-item"><a href="/about/">About Massoud Khodabandeh</a></li></ul></nav></div></header>
<div id="et-main-area"><div id="main-content"><div class="container"><div id="content-area" class="clearfix"><div id="left-area">
{"".join(arts)}
<div class="pagination clearfix"><div class="alignleft"><a href="https://www.khodabandeh.example/blog/page/2/">&laquo; Older Entries</a></div><div class="alignright"></div></div>
</div>
<div id="sidebar"><div id="recent-posts-2" class="et_pb_widget widget_recent_entries"><h4 class="widgettitle">Recent Posts</h4><ul><li><a href="/x/">A sidebar post with a long enough title</a></li></ul></div></div>
</div></div></div>
<footer id="main-footer"><div id="footer-bottom"><div class="container clearfix"><div id="footer-info">Designed by Elegant Themes | Powered by WordPress</div></div></div></footer>
</div></div>
</body></html>
"""
write(
    "divi_like.html",
    doc,
    {
        "url": page_url,
        "tz": "Europe/London",
        "kind": "html",
        "rule": "hatom",
        "author": None,
        "next_url": "https://www.khodabandeh.example/blog/page/2/",
        "feed_url": "https://www.khodabandeh.example/feed/",
        "posts": exp,
    },
)
