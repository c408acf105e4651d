"""The web page end to end: `latentrec serve` on 127.0.0.1 driven by headless chromium.

A small MovieLens-like catalogue (titles, genres, two taste groups, one title that is an
HTML injection attempt) is trained here, served with a fresh SQLite store, and a visitor
searches, rates three titles, sees their picks change and opens an explanation, all through
the page in Debian's chromium (Selenium with /usr/bin/chromedriver).  A screenshot is kept
under pytest's temporary directory; its path is printed.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import NamedTuple
from urllib.parse import quote

import numpy as np
import pandas as pd
import pytest

from latentrec import Interactions
from latentrec.models import BiasedMF

from .conftest import BANNER

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
HOSTILE_TITLE = '<img id="pwned" src="x" onerror="document.title=1"> "Quotes" & <b>'
WAIT_S = 60  # the first answers may compile numba kernels on a fresh machine


def catalogue(n_users: int = 60, n_items: int = 30, seed: int = 0) -> Interactions:
    """Ratings of two taste groups (space films and period dramas) with titles and genres."""
    rng = np.random.default_rng(seed)
    groups = np.arange(n_items) % 2  # 0: space, 1: drama
    titles = [
        f"Space Saga {i:02d}" if g == 0 else f"Drama Of Manners {i:02d}"
        for i, g in enumerate(groups)
    ]
    titles[n_items - 1] = HOSTILE_TITLE
    genres = ["Sci-Fi|Adventure" if g == 0 else "Drama|Romance" for g in groups]
    taste = rng.integers(0, 2, n_users)
    rows = []
    for u in range(n_users):
        for i in rng.choice(n_items, size=12, replace=False):
            liked = groups[i] == taste[u]
            stars = rng.choice([4, 5]) if liked else rng.choice([1, 2])
            rows.append((f"user{u}", f"m{i}", float(stars)))
    df = pd.DataFrame(rows, columns=["user_id", "item_id", "rating"])
    features = pd.DataFrame(
        {"title": titles, "genres": genres}, index=[f"m{i}" for i in range(n_items)]
    )
    return Interactions.from_frame(df, rating_scale=(1, 5), item_features=features)


def number(text: str) -> float:
    return float(text.replace("−", "-"))


def get_json(url: str):
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.load(response)


class Served(NamedTuple):
    url: str  # the base URL, ending in /
    store: Path  # the SQLite file of its ratings store


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """`latentrec serve` on a free loopback port; yields where it answers and where its
    store is, stops it afterwards."""
    tmp_path = tmp_path_factory.mktemp("serve")
    model_path = tmp_path / "model.npz"
    BiasedMF(n_factors=4, n_epochs=60, random_state=0).fit(catalogue()).save(model_path)
    log = (tmp_path / "server.log").open("w")
    cli = Path(sys.executable).with_name("latentrec")
    proc = subprocess.Popen(
        [
            str(cli),
            "serve",
            "--model",
            str(model_path),
            "--store",
            f"sqlite:///{tmp_path / 'ratings.db'}",
            "--host",
            "127.0.0.1",
            # Port 0, read back from serve's line: a port picked here and closed could be
            # taken by another process before serve binds it.
            "--port",
            "0",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = None
    try:
        deadline = time.monotonic() + 120  # first start may compile the numba kernels
        while True:
            if proc.poll() is not None:
                log.flush()
                pytest.fail(
                    f"latentrec serve exited with {proc.returncode}:\n"
                    + (tmp_path / "server.log").read_text()
                )
            if base is None and (found := BANNER.search((tmp_path / "server.log").read_bytes())):
                base = f"http://127.0.0.1:{int(found.group(1))}/"
            try:
                if base is not None:
                    get_json(base + "health")
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("latentrec serve did not answer /health within 120 s")
            time.sleep(0.2)
        yield Served(base, tmp_path / "ratings.db")
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


@pytest.fixture(scope="module")
def server(served):
    """The served base URL."""
    return served.url


@pytest.fixture(scope="module")
def browser():
    """Headless Debian chromium through Selenium; quits at the end whatever happens."""
    webdriver = pytest.importorskip("selenium.webdriver")
    missing = [p for p in (CHROMIUM, CHROMEDRIVER) if not os.access(p, os.X_OK)]
    if missing:
        pytest.skip(
            f"no {' or '.join(missing)}: install Debian's chromium and chromium-driver "
            "(apt-get install chromium chromium-driver) to run the browser test"
        )
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    profile = tempfile.mkdtemp(prefix="latentrec-chromium-")
    for arg in (
        "--headless=new",
        "--no-sandbox",  # CI runs as root, where chromium's sandbox refuses to start
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--window-size=1280,1400",
        f"--user-data-dir={profile}",
    ):
        options.add_argument(arg)
    try:
        driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
        try:
            yield driver
        finally:
            driver.quit()
    finally:
        shutil.rmtree(profile, ignore_errors=True)


class Page:
    """The page's elements by their ``data-testid``, and waits on its refresh counters."""

    def __init__(self, driver):
        from selenium.webdriver.common.by import By
        from selenium.webdriver.support.ui import WebDriverWait

        self.driver, self.by = driver, By
        self.wait = WebDriverWait(driver, WAIT_S).until

    def one(self, name, root=None):
        return (root or self.driver).find_element(self.by.CSS_SELECTOR, f'[data-testid="{name}"]')

    def all(self, name, root=None):
        return (root or self.driver).find_elements(self.by.CSS_SELECTOR, f'[data-testid="{name}"]')

    def renders(self, name) -> int:
        return int(self.one(name).get_attribute("data-renders") or 0)

    def after(self, name, action) -> None:
        """Do ``action`` and wait until the list ``name`` has been drawn again."""
        before = self.renders(name)
        action()
        self.wait(lambda d: self.renders(name) > before)

    def open(self, url) -> None:
        self.driver.get(url)
        self.wait(lambda d: d.find_element(self.by.TAG_NAME, "body").get_attribute("data-ready"))

    def picks(self) -> list[str]:
        return [li.get_attribute("data-item-id") for li in self.all("pick")]

    def search(self, text) -> list:
        box = self.one("search-input")
        box.clear()
        box.send_keys(text)
        self.after("search-results", self.one("search-button").click)
        return self.all("search-result")


def test_visitor_searches_rates_and_sees_picks_change(browser, server, tmp_path):
    page = Page(browser)
    page.open(server)

    # A visitor nobody has seen: the picks are the popular titles, and say so.
    page.one("user-id").send_keys("e2e visitor 'quoted' / ✓")
    page.after("picks-list", page.one("use-user").click)
    assert page.one("fallback-badge").is_displayed()
    popular = page.picks()
    assert len(popular) == 10
    assert page.one("model-version").text not in ("", "unknown")
    # Everything the page loaded came from the service itself: no CDN, works offline.
    loaded = browser.execute_script(
        "return performance.getEntriesByType('resource').map((e) => e.name)"
    )
    assert loaded and all(url.startswith(server) for url in loaded), loaded

    # Search the space films and rate three of them five stars, one after another.
    results = page.search("space saga")
    assert len(results) >= 3
    assert all("Space Saga" in page.one("title", r).text for r in results)
    rated = []
    for result in results[:3]:
        rated.append(result.get_attribute("data-item-id"))
        page.after("picks-list", page.one("star-5", result).click)
    page.wait(lambda d: len(page.all("my-rating")) == 3)
    assert sorted(li.get_attribute("data-item-id") for li in page.all("my-rating")) == sorted(rated)

    # The picks are now the visitor's own: personalised, without what they rated, and
    # led by the films of the taste they showed.
    assert not page.one("fallback-badge").is_displayed()
    personal = page.picks()
    assert personal != popular
    assert not set(rated) & set(personal)
    top_titles = [page.one("title", li).text for li in page.all("pick")[:3]]
    assert all(t.startswith("Space Saga") for t in top_titles), top_titles
    page.wait(lambda d: page.all("because-row"))  # "Because you watched" one of them

    # Why the first pick: the terms add up to the prediction, and the support is what
    # the visitor rated.
    page.one("explain-button", page.all("pick")[0]).click()
    page.wait(lambda d: page.one("explanation").is_displayed())
    terms = [number(page.one(t).text) for t in ("term-mu", "term-bu", "term-bi", "term-dot")]
    # The predicted rating is clipped to the 1-5 scale; the raw sum is shown where it differs.
    raw = page.one("term-raw")
    total = number(raw.text) if raw.is_displayed() else number(page.one("term-prediction").text)
    assert abs(sum(terms) - total) <= 0.02  # each shown to two decimals
    assert number(page.one("term-prediction").text) == min(5.0, max(1.0, total))
    shown_score = number(page.one("score", page.all("pick")[0]).text)
    assert shown_score == round(min(5.0, number(page.one("term-prediction").text)), 1)
    supporting = {li.get_attribute("data-item-id") for li in page.all("supporting-item")}
    assert supporting and supporting <= set(rated)
    # Chosen by the visitor's own stars, which each row shows.
    shown = [span.text for span in page.all("supporting-rating")]
    assert len(shown) == len(supporting) and all(t.startswith("you rated 5★") for t in shown)

    # A title that is an HTML injection attempt shows as text, and builds no element.
    hostile = page.search("quotes")
    assert [page.one("title", r).text for r in hostile] == [HOSTILE_TITLE.strip()]
    assert browser.find_elements(page.by.ID, "pwned") == []

    shot = tmp_path / "latentrec-page.png"
    browser.execute_script("window.scrollTo(0, 0)")
    assert browser.save_screenshot(str(shot))
    print(f"screenshot of the page: {shot}")


def test_new_visitor_answers_the_questions_and_is_remembered(browser, server):
    page = Page(browser)
    page.open(server)
    page.after("picks-list", page.one("new-visitor").click)
    page.wait(lambda d: page.one("onboarding").is_displayed())
    visitor = page.one("user-id").get_attribute("value")
    assert visitor.startswith("visitor-")
    questions = page.all("question")
    assert len(questions) >= 3

    answered = {}
    for question, stars in zip(questions[:3], (5, 5, 1), strict=True):
        page.one(f"star-{stars}", question).click()
        answered[question.get_attribute("data-item-id")] = stars
    page.after("picks-list", page.one("onboarding-submit").click)
    page.wait(lambda d: not page.one("onboarding").is_displayed())
    assert not page.one("fallback-badge").is_displayed()
    assert page.picks() and not set(answered) & set(page.picks())

    # The page remembers the visitor (localStorage) and the store kept the answers.
    page.open(server)
    page.wait(lambda d: len(page.all("my-rating")) == len(answered))
    assert page.one("user-id").get_attribute("value") == visitor
    shown = {
        li.get_attribute("data-item-id"): len(li.find_elements(page.by.CSS_SELECTOR, ".star.on"))
        for li in page.all("my-rating")
    }
    assert shown == answered


def test_page_keeps_to_liked_titles_fresh_explanations_and_old_lists_when_down(browser, server):
    """A 1-star title seeds no "Because you watched"; the open explanation follows a new
    rating; with the service unreachable the lists stay and one message says so."""
    page = Page(browser)
    page.open(server)
    user = "liked-only visitor"
    box = page.one("user-id")
    box.clear()
    box.send_keys(user)
    page.after("picks-list", page.one("use-user").click)

    disliked = page.search("drama of manners")[0]
    disliked_id = disliked.get_attribute("data-item-id")
    page.after("because-rows", page.one("star-1", disliked).click)
    page.wait(lambda d: len(page.all("my-rating")) == 1)
    assert page.all("because-row") == []  # a title rated 1 star is no reason for more

    space = page.search("space saga")
    page.after("because-rows", page.one("star-5", space[0]).click)
    seeds = [row.get_attribute("data-item-id") for row in page.all("because-row")]
    assert seeds == [space[0].get_attribute("data-item-id")], seeds
    assert disliked_id not in seeds

    # Why the first pick, then a rating: the panel shows what the API says now.
    first = page.all("pick")[0]
    explained = first.get_attribute("data-item-id")
    page.one("explain-button", first).click()
    page.wait(lambda d: page.one("explanation").is_displayed())
    before = (page.one("term-bu").text, page.one("term-dot").text)
    page.after("picks-list", page.one("star-5", space[1]).click)
    from urllib.parse import quote

    def signed(x):
        return ("+" if x >= 0 else "−") + f"{abs(x):.2f}"

    def api_now():
        body = get_json(server + f"users/{quote(user)}/explain/{quote(explained)}")
        return (signed(body["user_bias"]), signed(body["interaction"])), f"{body['clipped']:.2f}"

    def fresh(_):
        if not page.one("explanation").is_displayed():
            return True  # closed: the title left the picks
        terms, clipped = api_now()
        shown = (page.one("term-bu").text, page.one("term-dot").text)
        return shown == terms and page.one("term-prediction").text == clipped

    page.wait(fresh)
    assert api_now()[0] != before  # the rating moved the terms: a stale panel would differ

    # The service goes away: the lists shown stay as they were, one message says so.
    picks, mine = page.picks(), len(page.all("my-rating"))
    rows = len(page.all("because-row"))
    browser.execute_script("window.fetch = () => Promise.reject(new TypeError('Failed to fetch'));")
    page.one("use-user").click()
    page.wait(lambda d: "could not be refreshed" in page.one("status").text)
    assert page.picks() == picks
    assert len(page.all("my-rating")) == mine
    assert len(page.all("because-row")) == rows
    assert "No ratings yet" not in page.one("my-ratings-list").text


def test_a_stored_value_that_is_no_number_shows_why_seeds_nothing_and_can_be_removed(
    browser, served
):
    """A rating or event weight written into the store by hand as NaN or Infinity comes
    with ``rating`` null and ``unusable`` saying why: "Your ratings" shows that instead of
    stars (not as 0 stars), never takes it as a "Because you watched" seed (an event used
    to count as liked whatever its value), and Remove still deletes it."""
    from urllib.parse import quote

    page = Page(browser)
    page.open(served.url)
    user = "visitor with a hand-written NaN"
    box = page.one("user-id")
    box.clear()
    box.send_keys(user)
    page.after("picks-list", page.one("use-user").click)

    space = page.search("space saga")
    kept, spoiled = (r.get_attribute("data-item-id") for r in space[:2])
    for result in space[:2]:
        page.after("because-rows", page.one("star-5", result).click)
    drama = page.search("drama of manners")[0].get_attribute("data-item-id")
    request = urllib.request.Request(
        served.url + "ratings",
        data=json.dumps({"user_id": user, "item_id": drama, "kind": "event"}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        assert response.status == 201
    # Past the service's checks, as someone with the database open would.
    with sqlite3.connect(served.store, timeout=30) as conn:
        for item_id, kind, value in ((spoiled, "explicit", "NaN"), (drama, "event", "Infinity")):
            done = conn.execute(
                "UPDATE lr_ratings SET value = ? WHERE user_id = ? AND item_id = ? AND kind = ?",
                (value, user, item_id, kind),
            )
            assert done.rowcount == 1
    conn.close()
    listed = get_json(served.url + f"users/{quote(user)}/ratings")["ratings"]
    said = {r["item_id"]: r["unusable"] for r in listed}
    assert said[kept] is None and said[spoiled] and said[drama]

    page.after("because-rows", page.one("use-user").click)
    rows = {li.get_attribute("data-item-id"): li for li in page.all("my-rating")}
    assert set(rows) == {kept, spoiled, drama}  # nothing dropped
    assert len(rows[kept].find_elements(page.by.CSS_SELECTOR, ".star.on")) == 5
    for item_id in (spoiled, drama):
        row = rows[item_id]
        assert page.all("stars", row) == []  # no stars, lit or not: it has no value
        note = page.one("unusable-rating", row)
        assert note.is_displayed() and "not a number" in note.text
        assert note.get_attribute("title") == said[item_id]  # the whole reason, on hover
        assert page.one("remove-rating", row).is_displayed()
    seeds = [row.get_attribute("data-item-id") for row in page.all("because-row")]
    assert seeds == [kept], seeds

    spoiled_row = rows[spoiled]
    page.after("my-ratings-list", page.one("remove-rating", spoiled_row).click)
    page.wait(lambda d: len(page.all("my-rating")) == 2)
    left = {li.get_attribute("data-item-id") for li in page.all("my-rating")}
    assert left == {kept, drama}
    listed = get_json(served.url + f"users/{quote(user)}/ratings")["ratings"]
    assert {r["item_id"] for r in listed} == {kept, drama}
    assert "could not" not in page.one("status").text


def post_ratings(url: str, ratings: list[dict]) -> None:
    request = urllib.request.Request(
        url + "ratings",
        data=json.dumps({"ratings": ratings}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        assert response.status == 201


def visitor_posts(page, url: str, user: str, ratings) -> list[str]:
    """Open the page as ``user``, POST ``ratings(*titles)`` for the first three titles a
    search for "space saga" lists, and show the user's rows; the three titles' ids."""
    page.open(url)
    box = page.one("user-id")
    box.clear()
    box.send_keys(user)
    page.after("picks-list", page.one("use-user").click)
    titles = [r.get_attribute("data-item-id") for r in page.search("space saga")[:3]]
    post_ratings(url, ratings(*titles))
    page.after("my-ratings-list", page.one("use-user").click)
    return titles


def test_an_event_shows_its_weight_as_a_count_and_a_rating_its_stars(browser, served):
    """A stored event (implicit feedback, its weights summed) was drawn in "Your
    ratings" as stars, a weight of 3 as a 3-star rating the visitor never gave, and its
    title's stars were lit wherever it was shown.  It shows as a count now; a rating,
    stored beside an event of the same title or not, keeps its stars."""
    page = Page(browser)
    user = "visitor who played things"
    fractional = []

    def ratings(played, both, rated):
        fractional.append(page.search("drama of manners")[0].get_attribute("data-item-id"))
        return [
            *({"user_id": user, "item_id": played, "kind": "event"} for _ in range(3)),
            {"user_id": user, "item_id": fractional[0], "kind": "event", "rating": 2.5},
            {"user_id": user, "item_id": both, "kind": "event", "rating": 4},
            {"user_id": user, "item_id": both, "rating": 2},
            {"user_id": user, "item_id": rated, "rating": 4},
        ]

    played, both, rated = visitor_posts(page, served.url, user, ratings)
    fractional = fractional[0]
    rows = page.all("my-rating")
    events = {r.get_attribute("data-item-id"): r for r in rows if r.get_attribute("data-kind")}
    stars = {r.get_attribute("data-item-id"): r for r in rows if not r.get_attribute("data-kind")}
    assert set(events) == {played, fractional, both} and set(stars) == {both, rated}
    for item_id, said in (
        (played, "Interacted 3 times"),
        (fractional, "Interaction weight 2.50"),
        (both, "Interacted 4 times"),
    ):
        row = events[item_id]
        assert page.all("stars", row) == []  # a weight is no rating: no stars at all
        assert page.one("event-weight", row).text == said
        assert page.one("remove-rating", row).is_displayed()
    for item_id, n in ((both, 2), (rated, 4)):
        assert len(stars[item_id].find_elements(page.by.CSS_SELECTOR, ".star.on")) == n
    # Elsewhere on the page a title known only by its events shows no stars lit; the one
    # also rated shows its rating.
    found = {r.get_attribute("data-item-id"): r for r in page.search("space saga")}
    assert found[played].find_elements(page.by.CSS_SELECTOR, ".star.on") == []
    assert len(found[both].find_elements(page.by.CSS_SELECTOR, ".star.on")) == 2
    assert "could not" not in page.one("status").text


def test_the_api_pages_render_with_no_internet(browser, server):
    """/docs and /redoc draw the API from the service's own files (chromium here reaches
    nothing else, so this is the offline case), under the policies the service sends:
    /docs's forbids inline script, so its operations being drawn shows the initialiser
    is the served file."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    wait = WebDriverWait(browser, WAIT_S).until

    def loaded():
        return browser.execute_script(
            "return performance.getEntriesByType('resource').map((e) => e.name)"
        )

    browser.get(server + "docs")
    health = wait(lambda d: d.find_elements(By.CSS_SELECTOR, '[data-path="/health"]'))
    assert health[0].text == "/health"
    assert len(browser.find_elements(By.CSS_SELECTOR, ".opblock")) >= 10
    assert loaded() and all(url.startswith(server) for url in loaded()), loaded()

    browser.get(server + "redoc")
    wait(lambda d: d.find_elements(By.CSS_SELECTOR, '[data-section-id$="health_health_get"]'))
    assert "latentrec" in browser.find_element(By.TAG_NAME, "h1").text
    # Redoc's "API docs by Redocly" logo is the one URL it names elsewhere; the page's
    # policy (img-src 'self' data:) blocks it, so nothing leaves the machine.
    foreign = [url for url in loaded() if not url.startswith(server)]
    assert foreign in ([], ["https://cdn.redoc.ly/redoc/logo-mini.svg"]), foreign


def test_remove_says_it_takes_a_rating_and_the_events_of_a_title_together(browser, served):
    """Remove beside an event's weight deletes the item's rating as well (the service's
    DELETE takes both rows): it took a visitor's 2★ along with a weight of 0.5 and said
    "Removed your rating".  The button now says "Remove both" where a title has both,
    and the message says what went; a weight of 0.5 shows as such, never as stars."""
    page = Page(browser)
    user = "visitor who half played"
    half, both, rated = visitor_posts(
        page,
        served.url,
        user,
        lambda half, both, rated: [
            {"user_id": user, "item_id": half, "kind": "event", "rating": 0.5},
            {"user_id": user, "item_id": both, "kind": "event", "rating": 0.5},
            {"user_id": user, "item_id": both, "rating": 2},
            {"user_id": user, "item_id": rated, "rating": 4},
        ],
    )

    def rows():
        return [
            (r.get_attribute("data-item-id"), r.get_attribute("data-kind"), r)
            for r in page.all("my-rating")
        ]

    buttons = {(item, kind): page.one("remove-rating", row) for item, kind, row in rows()}
    assert set(buttons) == {(half, "event"), (both, "event"), (both, None), (rated, None)}
    for _, kind, row in rows():
        if kind:
            assert page.one("event-weight", row).text == "Interaction weight 0.50"
            assert page.all("stars", row) == []
    assert [buttons[both, k].text for k in ("event", None)] == ["Remove both", "Remove both"]
    assert "rating and interactions" in buttons[both, "event"].get_attribute("aria-label")
    assert (buttons[half, "event"].text, buttons[rated, None].text) == ("Remove", "Remove")
    assert "interactions with" in buttons[half, "event"].get_attribute("aria-label")

    page.after("my-ratings-list", buttons[both, "event"].click)
    page.wait(lambda d: "Removed" in page.one("status").text)
    assert "your rating and interactions of" in page.one("status").text
    assert {(item, kind) for item, kind, _ in rows()} == {(half, "event"), (rated, None)}
    listed = get_json(served.url + f"users/{quote(user, safe='')}/ratings")["ratings"]
    assert {r["item_id"] for r in listed} == {half, rated}

    half_row = next(row for item, _, row in rows() if item == half)
    page.after("my-ratings-list", page.one("remove-rating", half_row).click)
    page.wait(lambda d: len(page.all("my-rating")) == 1)
    assert "Removed your interactions with" in page.one("status").text
    listed = get_json(served.url + f"users/{quote(user, safe='')}/ratings")["ratings"]
    assert [r["item_id"] for r in listed] == [rated]


def test_the_user_box_is_sent_as_typed_for_the_service_to_read(browser, server):
    """The page sends the user id as typed and the service strips it as the file readers
    do (Python's whitespace).  The page trimmed it with JavaScript's trim() first, which
    strips U+FEFF (no whitespace to the readers: "\\ufeffuser0" is another user) and
    keeps U+001F (a box of only that was sent, and refused with 422)."""
    page = Page(browser)
    page.open(server)

    def use(text):
        browser.execute_script("arguments[0].value = arguments[1]", page.one("user-id"), text)
        page.one("use-user").click()

    page.after("picks-list", lambda: use(" user0\x85"))
    assert not page.one("fallback-badge").is_displayed()  # user0's own picks
    page.after("picks-list", lambda: use("\ufeffuser0"))
    assert page.one("fallback-badge").is_displayed()  # a user nobody has seen
    use("\x1f\u3000")
    page.wait(lambda d: "Type a user id" in page.one("status").text)
    assert "\ufeffuser0" in page.one("current-user").text  # still the one before
