"""The web page's footer tells the truth about the API's pages in either install.

/docs and /redoc are the service's own, served with no internet, when the
fastapi-offline package (in the 'serve' extra) is installed, and a 404 naming it when it
is not; /openapi.json is always there.  The footer said "(online)" and, on hover, that
the page loaded its script from a CDN, which stopped being true when the pages moved in.
Each check fetches ``/`` from a real app over HTTP and follows the footer's links.
"""

from __future__ import annotations

from html.parser import HTMLParser
from urllib.parse import urljoin

import httpx

from latentrec.service import apidocs
from latentrec.service.app import create_app
from latentrec.service.holder import FixedSource
from latentrec.service.settings import Settings

from .serving import served_in_thread


class FooterReader(HTMLParser):
    """The footer's visible text and its links (href, title, text)."""

    def __init__(self):
        super().__init__()
        self.depth = 0  # inside <footer> when > 0
        self.text: list[str] = []
        self.links: list[dict] = []
        self._link: dict | None = None

    def handle_starttag(self, tag, attrs):
        if tag == "footer":
            self.depth += 1
        elif tag == "a" and self.depth:
            self._link = {**dict(attrs), "text": ""}
            self.links.append(self._link)

    def handle_endtag(self, tag):
        if tag == "footer":
            self.depth -= 1
        elif tag == "a":
            self._link = None

    def handle_data(self, data):
        if self.depth:
            self.text.append(data)
            if self._link is not None:
                self._link["text"] += data


def footer_of(page: str) -> tuple[str, dict[str, dict]]:
    """The footer's text (white space collapsed) and its links by their text."""
    reader = FooterReader()
    reader.feed(page)
    text = " ".join("".join(reader.text).split())
    assert text, "the page has no footer"
    return text, {link["text"].strip(): link for link in reader.links}


def said(text: str, links: dict[str, dict]) -> str:
    """Everything the footer says: its text and its links' hover texts, lower-case."""
    return " ".join([text, *(link.get("title", "") for link in links.values())]).lower()


def served_app(store, model):
    return served_in_thread(create_app(Settings(), store=store, source=FixedSource(model, "v1")))


def test_the_footer_links_the_pages_and_says_they_need_no_internet(store, explicit_model):
    with served_app(store, explicit_model) as (url, _):
        page = url + "/"
        text, links = footer_of(httpx.get(page).text)
        assert {"docs", "redoc", "openapi.json"} <= set(links), (text, links)
        everything = said(text, links)
        # Nothing of the pages' old CDN: they are the service's own now.
        for stale in ("(online)", "cdn", "needs the internet", "need the internet"):
            assert stale not in everything, (stale, everything)
        assert "no internet" in everything, everything
        for name in ("docs", "redoc", "openapi.json"):
            r = httpx.get(urljoin(page, links[name]["href"]))
            assert r.status_code == 200, (name, r.status_code, r.text[:200])
        # The pages it links load nothing from another host.
        docs = httpx.get(urljoin(page, links["docs"]["href"])).text
        assert "https://" not in docs and "http://" not in docs


def test_without_fastapi_offline_the_footer_named_what_the_404_asks_for(
    store, explicit_model, monkeypatch
):
    # The install without the package: /docs and /redoc answer 404 naming it, which the
    # footer said beforehand; openapi.json, which it links too, still works.
    monkeypatch.setattr(apidocs, "ASSETS_PACKAGE", "latentrec_no_such_package")
    assert apidocs.assets_dir() is None
    with served_app(store, explicit_model) as (url, _):
        page = url + "/"
        text, links = footer_of(httpx.get(page).text)
        assert "fastapi-offline" in text, text
        for name in ("docs", "redoc"):
            r = httpx.get(urljoin(page, links[name]["href"]))
            assert r.status_code == 404, (name, r.text)
            assert "fastapi-offline" in r.json()["detail"]
            assert "fastapi-offline" in links[name]["title"], links[name]
        r = httpx.get(urljoin(page, links["openapi.json"]["href"]))
        assert r.status_code == 200 and r.json()["openapi"].startswith("3.")
