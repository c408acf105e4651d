// The latentrec web page: plain JavaScript over the service's JSON API, no framework, no
// network access beyond this service.  Every id and title is treated as hostile text: the
// page builds its DOM with createElement/textContent/setAttribute only (never innerHTML),
// and puts ids into URLs through encodeURIComponent.
"use strict";

(() => {
  const USER_KEY = "latentrec.user";
  const TOKEN_KEY = "latentrec.token";
  const N_PICKS = 10;
  const N_SIMILAR = 6;
  const N_BECAUSE_ROWS = 3;
  const N_QUESTIONS = 8;
  const N_SEARCH = 20;
  const N_MY_RATINGS = 12;

  const $ = (id) => document.getElementById(id);
  const state = {
    user: null,
    ratings: new Map(), // String(item_id) -> stars, as the store has them
    answers: new Map(), // onboarding answers not yet sent: String(item_id) -> {id, stars}
    picksRequest: 0, // drops a slow response that a newer request has overtaken
    renders: { picks: 0, because: 0, ratings: 0, search: 0 },
  };

  // ---- small helpers -------------------------------------------------------------------

  // The user id is remembered across visits (localStorage); the access token only for
  // this tab's session (sessionStorage), so it is not left behind on a shared machine.
  function storageOf(key) {
    return key === TOKEN_KEY ? window.sessionStorage : window.localStorage;
  }

  function storageGet(key) {
    try {
      return storageOf(key).getItem(key);
    } catch (_) {
      return null; // storage disabled: the page still works, it just forgets
    }
  }

  function storageSet(key, value) {
    try {
      if (value) storageOf(key).setItem(key, value);
      else storageOf(key).removeItem(key);
    } catch (_) {
      /* see storageGet */
    }
  }

  // el("li", {class: "x", "data-testid": "pick"}, child, "text", ...) with no HTML parsing.
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      node.setAttribute(name, value === true ? "" : String(value));
    }
    for (const child of children) {
      if (child === null || child === undefined) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function seg(id) {
    return encodeURIComponent(String(id));
  }

  function titleOf(item) {
    const title = item.title;
    return title === null || title === undefined || title === "" ? String(item.item_id) : title;
  }

  function fmt(x, digits = 2) {
    const v = Number(x);
    if (!Number.isFinite(v)) return "–";
    return (v >= 0 ? "+" : "−") + Math.abs(v).toFixed(digits);
  }

  function say(text, isError = false) {
    const status = $("status");
    status.textContent = text;
    status.classList.toggle("error", isError);
  }

  function bump(name, node) {
    state.renders[name] += 1;
    node.setAttribute("data-renders", String(state.renders[name]));
  }

  // ---- the API ---------------------------------------------------------------------------

  class ApiError extends Error {
    constructor(status, message) {
      super(message);
      this.status = status;
    }
  }

  function detailOf(body, status) {
    const detail = body && body.detail;
    if (typeof detail === "string") return detail;
    if (Array.isArray(detail)) {
      return detail.map((d) => (d && d.msg ? d.msg : JSON.stringify(d))).join("; ");
    }
    return `the service answered ${status}`;
  }

  async function api(method, path, body) {
    const headers = { Accept: "application/json" };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const token = $("token").value.trim();
    if (token) headers.Authorization = `Bearer ${token}`;
    let response;
    try {
      response = await fetch(path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (err) {
      throw new ApiError(0, "the service cannot be reached");
    }
    let data = null;
    try {
      data = await response.json();
    } catch (_) {
      data = null;
    }
    if (!response.ok) throw new ApiError(response.status, detailOf(data, response.status));
    if (data && typeof data.model_version === "string") {
      $("model-version").textContent = data.model_version;
    }
    return data;
  }

  const userPath = (tail) => `users/${seg(state.user)}/${tail}`;

  // ---- stars -----------------------------------------------------------------------------

  // A row of five buttons; `onPick(stars)` runs on click.  `current` is the stars shown on.
  function starWidget(itemId, title, current, onPick) {
    const group = el("div", {
      class: "stars",
      role: "group",
      "aria-label": `Rate ${title}`,
      "data-testid": "stars",
      "data-item-id": String(itemId),
    });
    for (let n = 1; n <= 5; n += 1) {
      const button = el(
        "button",
        {
          type: "button",
          class: "star",
          "data-stars": n,
          "data-testid": `star-${n}`,
          "aria-label": `${n} star${n > 1 ? "s" : ""}`,
        },
        "★",
      );
      button.addEventListener("click", () => onPick(n));
      group.append(button);
    }
    paintStars(group, current);
    return group;
  }

  function paintStars(group, current) {
    for (const button of group.querySelectorAll("button.star")) {
      const n = Number(button.getAttribute("data-stars"));
      button.classList.toggle("on", current !== undefined && n <= current);
      button.setAttribute("aria-pressed", String(current === n));
    }
  }

  function repaintItem(itemId, current) {
    for (const group of document.querySelectorAll(".stars[data-rates='store']")) {
      if (group.getAttribute("data-item-id") === String(itemId)) paintStars(group, current);
    }
  }

  // Stars that post a rating to the store at once.
  function ratingWidget(item) {
    const widget = starWidget(item.item_id, titleOf(item), state.ratings.get(String(item.item_id)),
      (n) => rate(item, n));
    widget.setAttribute("data-rates", "store");
    return widget;
  }

  // ---- rendering lists -------------------------------------------------------------------

  function itemRow(item, testid, extra) {
    const li = el("li", { class: "item", "data-testid": testid, "data-item-id": String(item.item_id) });
    li.append(el("span", { class: "title", "data-testid": "title" }, titleOf(item)));
    if (Array.isArray(item.genres) && item.genres.length) {
      li.append(el("span", { class: "genres" }, item.genres.join(", ")));
    }
    for (const node of extra || []) li.append(node);
    return li;
  }

  function renderPicks(body) {
    const list = $("picks-list");
    const items = body.items || [];
    const fallback = Boolean(body.fallback);
    $("fallback-badge").hidden = !fallback;
    list.setAttribute("data-fallback", String(fallback));
    list.replaceChildren(
      ...items.map((item) => {
        const extra = [];
        if (item.score !== undefined && item.score !== null && !fallback) {
          extra.push(el("span", { class: "score", title: "predicted rating" },
            Number(item.score).toFixed(1)));
        }
        extra.push(ratingWidget(item));
        if (!fallback) {
          const why = el("button", {
            type: "button",
            class: "why",
            "data-testid": "explain-button",
            "aria-controls": "explanation",
            "aria-label": `Why ${titleOf(item)}?`,
          }, "Why?");
          why.addEventListener("click", () => explain(item));
          extra.push(why);
        }
        return itemRow(item, "pick", extra);
      }),
    );
    if (!items.length) list.append(el("li", { class: "empty" }, "Nothing to recommend yet."));
    bump("picks", list);
  }

  async function refreshPicks() {
    if (!state.user) return;
    const ticket = ++state.picksRequest;
    const list = $("picks-list");
    list.setAttribute("aria-busy", "true");
    try {
      const body = await api("GET", userPath(`recommendations?n=${N_PICKS}`));
      if (ticket === state.picksRequest) renderPicks(body);
    } catch (err) {
      if (ticket === state.picksRequest) say(`Could not load your picks: ${err.message}`, true);
    } finally {
      if (ticket === state.picksRequest) list.removeAttribute("aria-busy");
    }
  }

  async function refreshRatings() {
    if (!state.user) return [];
    let rated = [];
    try {
      const body = await api("GET", userPath("ratings"));
      rated = body.ratings || [];
    } catch (err) {
      if (err.status !== 404) say(`Could not load your ratings: ${err.message}`, true);
    }
    state.ratings = new Map(rated.map((r) => [String(r.item_id), Number(r.rating)]));
    const list = $("my-ratings-list");
    const shown = rated.slice(0, N_MY_RATINGS); // the store lists the newest first
    list.replaceChildren(...shown.map((r) => itemRow(r, "my-rating", [ratingWidget(r)])));
    if (!rated.length) list.append(el("li", { class: "empty" }, "No ratings yet."));
    if (rated.length > shown.length) {
      list.append(el("li", { class: "empty" }, `and ${rated.length - shown.length} older ones`));
    }
    bump("ratings", list);
    for (const [id, stars] of state.ratings) repaintItem(id, stars);
    return rated;
  }

  // "Because you watched X": the user's best-rated titles, most recent first when known.
  async function refreshBecause(rated) {
    const rows = $("because-rows");
    const liked = rated
      .filter((r) => Number(r.rating) >= 4 || rated.length <= N_BECAUSE_ROWS)
      .sort((a, b) => Number(b.rating) - Number(a.rating) || String(b.rated_at || "").localeCompare(String(a.rated_at || "")))
      .slice(0, N_BECAUSE_ROWS);
    const built = [];
    for (const seed of liked) {
      try {
        const body = await api("GET", `items/${seg(seed.item_id)}/similar?n=${N_SIMILAR}`);
        const items = (body.items || []).filter((it) => !state.ratings.has(String(it.item_id)));
        if (!items.length) continue;
        const heading = el("h3", {}, "Because you watched ", el("cite", {}, titleOf(seed)));
        const list = el("ol", { class: "item-list row" },
          ...items.map((it) => itemRow(it, "similar", [ratingWidget(it)])));
        built.push(el("div", { class: "because-row", "data-testid": "because-row",
          "data-item-id": String(seed.item_id) }, heading, list));
      } catch (err) {
        // A title the model has no vector for (added since training) has no neighbours yet.
        if (err.status !== 404) say(`Could not load similar titles: ${err.message}`, true);
      }
    }
    rows.replaceChildren(...built);
    if (!built.length) {
      rows.append(el("p", { class: "empty" }, "Rate a title you liked to see more like it."));
    }
    bump("because", rows);
  }

  async function refreshAll() {
    const rated = await refreshRatings();
    await Promise.all([refreshPicks(), refreshBecause(rated)]);
  }

  // ---- actions ---------------------------------------------------------------------------

  async function rate(item, stars) {
    if (!state.user) {
      say("Pick a user id first (or press “I'm new here”).", true);
      $("user-id").focus();
      return;
    }
    const title = titleOf(item);
    say(`Saving ${stars}★ for ${title}…`);
    try {
      await api("POST", "ratings", {
        ratings: [{ user_id: state.user, item_id: item.item_id, rating: stars }],
      });
    } catch (err) {
      say(`Could not save the rating for ${title}: ${err.message}`, true);
      return;
    }
    state.ratings.set(String(item.item_id), stars);
    repaintItem(item.item_id, stars);
    say(`Saved ${stars}★ for ${title}. Your picks are updated.`);
    await refreshAll();
  }

  async function explain(item) {
    const panel = $("explanation");
    const title = titleOf(item);
    try {
      const body = await api("GET", userPath(`explain/${seg(item.item_id)}`));
      $("explanation-title").textContent = body.item_title || title;
      $("term-mu").textContent = Number(body.global_mean).toFixed(2);
      $("term-bu").textContent = fmt(body.user_bias);
      $("term-bi").textContent = fmt(body.item_bias);
      $("term-dot").textContent = fmt(body.interaction);
      $("term-prediction").textContent = Number(body.prediction).toFixed(2);
      const support = body.supporting_items || [];
      $("supporting").replaceChildren(
        ...support.map((s) =>
          el("li", { "data-testid": "supporting-item", "data-item-id": String(s.item_id) },
            titleOf(s), " ",
            el("span", { class: "similarity" }, `similarity ${Number(s.similarity).toFixed(2)}`))),
      );
      if (!support.length) $("supporting").append(el("li", { class: "empty" }, "Nothing yet."));
      panel.hidden = false;
      panel.setAttribute("data-item-id", String(item.item_id));
      $("explanation-close").focus();
    } catch (err) {
      say(`No explanation for ${title}: ${err.message}`, true);
    }
  }

  function closeExplanation() {
    $("explanation").hidden = true;
  }

  async function search(event) {
    event.preventDefault();
    const params = new URLSearchParams();
    const text = $("search-input").value.trim();
    const genre = $("genre-input").value.trim();
    if (text) params.set("search", text);
    if (genre) params.set("genre", genre);
    params.set("n", String(N_SEARCH));
    const list = $("search-results");
    try {
      const body = await api("GET", `items?${params}`);
      const items = body.items || [];
      list.replaceChildren(...items.map((it) => itemRow(it, "search-result", [ratingWidget(it)])));
      if (!items.length) list.append(el("li", { class: "empty" }, "No title matches."));
      say(`${items.length} title${items.length === 1 ? "" : "s"} found.`);
    } catch (err) {
      say(`Search failed: ${err.message}`, true);
    }
    bump("search", list);
  }

  // ---- who is visiting -------------------------------------------------------------------

  function setUser(userId) {
    state.user = userId;
    storageSet(USER_KEY, userId);
    $("user-id").value = userId;
    $("current-user").textContent = `Showing picks for ${userId}`;
    closeExplanation();
  }

  async function useUser(event) {
    event.preventDefault();
    const userId = $("user-id").value.trim();
    if (!userId) {
      say("Type a user id, or press “I'm new here”.", true);
      return;
    }
    $("onboarding").hidden = true;
    setUser(userId);
    say("");
    await refreshAll();
  }

  function newVisitorId() {
    const bytes = new Uint8Array(8);
    window.crypto.getRandomValues(bytes);
    return `visitor-${Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("")}`;
  }

  async function newVisitor() {
    setUser(newVisitorId());
    state.answers = new Map();
    await refreshAll();
    const list = $("onboarding-questions");
    try {
      const body = await api("GET", `onboarding/questions?n=${N_QUESTIONS}`);
      const questions = body.questions || body.items || [];
      list.replaceChildren(
        ...questions.map((q) => {
          const widget = starWidget(q.item_id, titleOf(q), undefined, (n) => {
            state.answers.set(String(q.item_id), { id: q.item_id, stars: n });
            paintStars(widget, n);
          });
          return itemRow(q, "question", [widget]);
        }),
      );
      $("onboarding").hidden = false;
      say("Welcome! Rate a few titles you know to get your first picks.");
    } catch (err) {
      say(`Could not load the questions: ${err.message}`, true);
    }
  }

  async function submitOnboarding() {
    if (!state.answers.size) {
      say("Rate at least one title first, or search for titles you know.", true);
      return;
    }
    const answers = Array.from(state.answers.values(), (a) => ({ item_id: a.id, rating: a.stars }));
    try {
      const body = await api("POST", userPath("onboarding"), { answers, n: N_PICKS });
      $("onboarding").hidden = true;
      renderPicks(body);
      say("Thanks! These picks come from your answers.");
      const rated = await refreshRatings();
      await refreshBecause(rated);
    } catch (err) {
      say(`Could not send your answers: ${err.message}`, true);
    }
  }

  async function loadGenres() {
    try {
      const body = await api("GET", "genres");
      $("genre-list").replaceChildren(...(body.genres || []).map((g) => el("option", { value: g })));
    } catch (_) {
      // The genre box still takes free text; the suggestions are a convenience.
    }
  }

  async function start() {
    $("user-form").addEventListener("submit", useUser);
    $("new-visitor").addEventListener("click", newVisitor);
    $("search-form").addEventListener("submit", search);
    $("onboarding-submit").addEventListener("click", submitOnboarding);
    $("explanation-close").addEventListener("click", closeExplanation);
    $("token").value = storageGet(TOKEN_KEY) || "";
    $("token").addEventListener("change", () => storageSet(TOKEN_KEY, $("token").value.trim()));
    document.addEventListener("keydown", (e) => {
      if (e.key === "Escape" && !$("explanation").hidden) closeExplanation();
    });
    try {
      await api("GET", "health");
    } catch (err) {
      say(`The service is not healthy: ${err.message}`, true);
    }
    loadGenres();
    const remembered = storageGet(USER_KEY);
    if (remembered) {
      setUser(remembered);
      await refreshAll();
    } else {
      say("Type your user id, or press “I'm new here” to answer a few questions.");
    }
    document.body.setAttribute("data-ready", "true");
  }

  document.addEventListener("DOMContentLoaded", start);
})();
