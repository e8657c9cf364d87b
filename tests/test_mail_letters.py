"""The alert e-mail, letter for letter: a fixed letter renders to the bytes it always did.

The expected text below and the two messages in ``fixtures/mail/`` were
written by the mail module as it was before its templates moved into files
(``search/templates/mail/``), so this test holds the move to "no change on the
wire": the subject, the plain and HTML parts, their transfer encodings and
every header but the two that change on each call (``Date``, the MIME
boundary). The fixed input has what a template can get wrong: non-ASCII in the
subject and body, HTML in a title and a snippet, an undated article, a reason
of each kind and none, an empty query and an empty snippet.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest

from search.alerts.mail import Letter, MailItem, Reason, build_message
from search.records import Hit, SavedSearch, SearchQuery, User
from search.settings import Settings

FIXTURES = Path(__file__).parent / "fixtures" / "mail"


def _hit(n: int, title: str, outlet: str, published: dt.date | None, snippet: str) -> Hit:
    return Hit(id=f"{n:020x}", url=None, title=title, outlet=outlet, author=None, published=published, year="2030",
               language="en", actors=(), snippet=snippet)


ITEMS = (
    MailItem(_hit(1, "Lavrov <script>alert('x')</script> & Co", "Sputnik", dt.datetime(2030, 3, 31, 6, 5, tzinfo=dt.UTC),
                  "Sergey <mark>Lavrov</mark> met   his &lt;b&gt;Serbian&lt;/b&gt; counterpart\n in Moscow."),
             "https://news.example/articles/00000000000000000001",
             Reason(words=("Lavrov",), actors=("Sergey Lavrov",), outlets=("Sputnik",))),
    MailItem(_hit(2, "Переговоры Лаврова", "RIA", None, "Министр Сергей <mark>Лавров</mark> обсудил санкции."),
             "https://news.example/articles/00000000000000000002", Reason()),
    MailItem(_hit(3, "Energy", "Tanjug", dt.date(2030, 4, 1), ""),
             "https://news.example/articles/00000000000000000003", Reason(words=("gas", "oil"))),
)

SETTINGS = Settings(index=Path("unused"), base_url="https://news.example/", mail_from="Newsdesk <alerts@news.example>")


def _letter(frequency: str) -> Letter:
    if frequency == "instant":
        saved = SavedSearch(id=7, user_id=3, name="Лавров и Вучич: a long name", query=SearchQuery(q="Lavrov OR Лавров"))
    else:
        saved = SavedSearch(id=7, user_id=3, name="Plain & <simple>", query=SearchQuery(), frequency=frequency)
    items = ITEMS[:2] if frequency == "instant" else ITEMS
    return Letter(saved, User(3, "ana@example.org"), items, "<alert.7.1-3@news.example>",
                  "https://news.example/unsubscribe/abc.DEF_123")


def _wire(frequency: str) -> bytes:
    """The message as sent, with its call-dependent Date and boundary replaced by fixed ones."""
    message = build_message(SETTINGS, _letter(frequency))
    raw = message.as_bytes()
    boundary = message.get_boundary()
    assert boundary is not None
    raw = raw.replace(boundary.encode("ascii"), b"===============BOUNDARY==")
    return re.sub(rb"(?m)^Date: [^\r\n]*\r\n", b"Date: Mon, 01 Apr 2030 06:00:00 +0000\r\n", raw, count=1)


DIGEST_TEXT = """\
Digest for your saved search "Plain & <simple>" (all articles):

1. Lavrov <script>alert('x')</script> & Co
   Sputnik, 2030-03-31
   Sergey Lavrov met his <b>Serbian</b> counterpart in Moscow.
   Why: words: “Lavrov”; actor: Sergey Lavrov; outlet: Sputnik
   https://news.example/articles/00000000000000000001

2. Переговоры Лаврова
   RIA, undated
   Министр Сергей Лавров обсудил санкции.
   Why: every new article
   https://news.example/articles/00000000000000000002

3. Energy
   Tanjug, 2030-04-01
   
   Why: words: “gas”, “oil”
   https://news.example/articles/00000000000000000003

--
Unsubscribe from this alert: https://news.example/unsubscribe/abc.DEF_123
Change or turn off your alerts: https://news.example/saved
"""

DIGEST_HTML = """\
<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Plain &amp; &lt;simple&gt;</title></head>
<body style="font-family: sans-serif; max-width: 40em">
<p>Digest for your saved search <strong>Plain &amp; &lt;simple&gt;</strong>
(all articles):</p>

<div style="margin: 1.2em 0">
  <h2 style="font-size: 1.1em; margin: 0"><a href="https://news.example/articles/00000000000000000001">\
Lavrov &lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; Co</a></h2>
  <p style="margin: .2em 0; color: #555">Sputnik · 2030-03-31</p>
  <p style="margin: .2em 0">Sergey Lavrov met his &lt;b&gt;Serbian&lt;/b&gt; counterpart in Moscow.</p>
  <p style="margin: .2em 0; font-size: .9em">Why: words: “Lavrov”; actor: Sergey Lavrov; outlet: Sputnik</p>
</div>

<div style="margin: 1.2em 0">
  <h2 style="font-size: 1.1em; margin: 0"><a href="https://news.example/articles/00000000000000000002">\
Переговоры Лаврова</a></h2>
  <p style="margin: .2em 0; color: #555">RIA · undated</p>
  <p style="margin: .2em 0">Министр Сергей Лавров обсудил санкции.</p>
  <p style="margin: .2em 0; font-size: .9em">Why: every new article</p>
</div>

<div style="margin: 1.2em 0">
  <h2 style="font-size: 1.1em; margin: 0"><a href="https://news.example/articles/00000000000000000003">Energy</a></h2>
  <p style="margin: .2em 0; color: #555">Tanjug · 2030-04-01</p>
  <p style="margin: .2em 0"></p>
  <p style="margin: .2em 0; font-size: .9em">Why: words: “gas”, “oil”</p>
</div>

<hr>
<p style="font-size: .9em"><a href="https://news.example/unsubscribe/abc.DEF_123">Unsubscribe from this alert</a> ·
<a href="https://news.example/saved">Change or turn off your alerts</a></p>
</body></html>
"""


def test_a_digest_renders_the_text_and_html_it_always_did() -> None:
    message = build_message(SETTINGS, _letter("daily"))
    assert message["Subject"] == "Plain & <simple>: daily digest, 3 new articles"
    text, html = message.get_body(("plain",)), message.get_body(("html",))
    assert text is not None and html is not None
    assert text.get_content() == DIGEST_TEXT
    assert html.get_content() == DIGEST_HTML


@pytest.mark.parametrize("frequency", ["instant", "daily"])
def test_the_message_on_the_wire_is_byte_for_byte_what_it_was(frequency: str) -> None:
    assert _wire(frequency) == (FIXTURES / f"{frequency}.eml").read_bytes()
