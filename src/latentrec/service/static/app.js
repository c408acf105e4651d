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

  // A box of nothing but what Python's str.strip() removes (str.isspace), as the
  // service reads ids: no id at all.
  const ONLY_SPACE = /^[\t\n\v\f\r\x1c-\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*$/;

  const $ = (id) => document.getElementById(id);
  const state = {
    user: null,
    ratings: new Map(), // String(item_id) -> stars, as the store has them
    stored: new Map(), // String(item_id) -> Set of "rating" / "event": its stored rows
    answers: new Map(), // onboarding answers not yet sent: String(item_id) -> {id, stars}
    picksRequest: 0, // drops a slow response that a newer request has overtaken
    scale: [1, 5], // the served model's rating scale (/health), for clipping and "liked"
    predictsRatings: true,
    explained: null, // {item, button} of the open "Why this pick" panel
    search: null, // {params, offset, items} of the search shown, for "Show more"
    renders: { picks: 0, because: 0, ratings: 0, search: 0, explanation: 0 },
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

  // One minus sign everywhere a number is shown: U+2212, as fmt writes it.
  function num(x, digits = 2) {
    const v = Number(x);
    if (!Number.isFinite(v)) return "–";
    return (v < 0 ? "−" : "") + Math.abs(v).toFixed(digits);
  }

  // A score as a predicted rating: clipped to the model's scale, as predict clips it.
  function clipToScale(x) {
    const [lo, hi] = state.scale;
    return Math.min(hi, Math.max(lo, Number(x)));
  }

  // A stored row whose value is no number (NaN or ±Infinity written into the database by
  // hand): the service sends `rating` null and `unusable` saying why.  It has no stars to
  // show and says nothing of the visitor's taste; Number(null) would read it as 0★.
  function unusable(r) {
    return Boolean(r.unusable) || r.rating === null || r.rating === undefined
      || !Number.isFinite(Number(r.rating));
  }

  // A stored row of implicit feedback (plays, clicks): its value is a weight, not stars.
  function isEvent(r) {
    return Boolean(r.kind) && r.kind !== "explicit";
  }

  // "Interacted 3 times" for a whole weight, "Interaction weight 2.5" otherwise.
  function eventWeight(r) {
    const w = Number(r.rating);
    const text = Number.isInteger(w)
      ? `Interacted ${w} time${w === 1 ? "" : "s"}`
      : `Interaction weight ${num(w, 2)}`;
    return el("span", { class: "event-weight", "data-testid": "event-weight",
      title: "implicit feedback (plays, clicks), summed: not a rating" }, text);
  }

  // A title the visitor liked: any event of an implicit kind (an interaction is a positive
  // signal), an explicit rating only in the upper quarter of the scale (4★ or more on 1–5).
  // A row with no usable value is neither.
  function liked(r) {
    if (unusable(r)) return false;
    if (isEvent(r)) return true;
    const [lo, hi] = state.scale;
    return Number(r.rating) >= lo + 0.75 * (hi - lo);
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
    if (response.status === 401) {
      // Point to the field instead of repeating the service's header jargon.
      $("token-settings").open = true;
      throw new ApiError(401, token
        ? "the access token is wrong (check it under “Access token”)"
        : "this action needs the access token (enter it under “Access token”)");
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
          // Clipped to the scale as the explanation's "Predicted rating" is.
          const shown = state.predictsRatings ? clipToScale(item.score) : Number(item.score);
          extra.push(el("span", { class: "score", "data-testid": "score",
            title: state.predictsRatings ? "predicted rating" : "score" }, num(shown, 1)));
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
          why.addEventListener("click", () => explain(item, why));
          extra.push(why);
        }
        return itemRow(item, "pick", extra);
      }),
    );
    if (!items.length) list.append(el("li", { class: "empty" }, "Nothing to recommend yet."));
    bump("picks", list);
    // The open explanation must not keep numbers the new list no longer agrees with:
    // explain the same title again while it is still a pick, else close the panel.
    const open = state.explained;
    if (open && !$("explanation").hidden) {
      const still = fallback ? null
        : items.find((it) => String(it.item_id) === String(open.item.item_id));
      const button = still && list.querySelector(
        `li[data-item-id="${CSS.escape(String(still.item_id))}"] button.why`);
      if (still) explain(still, button, { quiet: true });
      else closeExplanation(false);
    }
  }

  async function refreshPicks() {
    if (!state.user) return;
    const ticket = ++state.picksRequest;
    const list = $("picks-list");
    list.setAttribute("aria-busy", "true");
    try {
      const knobs = $("more-varied").checked ? "&diversity=0.3" : "";
      const body = await api("GET", userPath(`recommendations?n=${N_PICKS}${knobs}`));
      if (ticket === state.picksRequest) renderPicks(body);
      return null;
    } catch (err) {
      return err; // the old picks stay; refreshAll says so once
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
      // Anything but "no such user": keep the list shown rather than claim "No ratings".
      if (err.status !== 404) return null;
    }
    // An unusable row still counts as rated (the service never recommends it back), so it
    // stays a key; its stars are none, wherever the title is shown.  So is an event: its
    // value is a summed weight (3 plays), no stars; an item's explicit rating, stored
    // beside its events, gives its stars.
    state.ratings = new Map(rated.map((r) => [String(r.item_id), undefined]));
    // Remove deletes an item's rating and its events together (the service's DELETE):
    // each row's button says so where the item has both.
    state.stored = new Map();
    for (const r of rated) {
      const key = String(r.item_id);
      if (!state.stored.has(key)) state.stored.set(key, new Set());
      state.stored.get(key).add(isEvent(r) ? "event" : "rating");
    }
    for (const r of rated) {
      if (isEvent(r) || unusable(r)) continue;
      state.ratings.set(String(r.item_id), Number(r.rating));
    }
    const list = $("my-ratings-list");
    const shown = rated.slice(0, N_MY_RATINGS); // the store lists the newest first
    list.replaceChildren(...shown.map(myRatingRow));
    if (!rated.length) list.append(el("li", { class: "empty" }, "No ratings yet."));
    if (rated.length > shown.length) {
      list.append(el("li", { class: "empty" }, `and ${rated.length - shown.length} older ones`));
    }
    bump("ratings", list);
    for (const [id, stars] of state.ratings) repaintItem(id, stars);
    return rated;
  }

  // One row of "Your ratings": the stars and Remove; for a value that is no number, what
  // the service says of it instead of stars (the short form here, the whole text on hover)
  // and Remove, which is the way to be rid of it.
  function myRatingRow(r) {
    if (!unusable(r) && isEvent(r)) {
      // An event's weight (its plays or clicks, summed) as a count, never as stars: a
      // weight of 3 was drawn as 3★, a rating the visitor never gave.
      const li = itemRow(r, "my-rating", [eventWeight(r), removeButton(r)]);
      li.setAttribute("data-kind", "event");
      return li;
    }
    if (!unusable(r)) return itemRow(r, "my-rating", [ratingWidget(r), removeButton(r)]);
    const why = r.unusable || "the stored value is not a number; it is left out of your picks";
    const note = el("span", { class: "unusable", "data-testid": "unusable-rating", title: why },
      "Stored value is not a number: left out of your picks");
    const li = itemRow(r, "my-rating", [note, removeButton(r)]);
    li.setAttribute("data-unusable", "true");
    return li;
  }

  // "Because you watched X": the titles the user liked (see `liked`), best rated first,
  // then the most recent.  A title rated low is never a reason to show more like it.
  async function refreshBecause(rated) {
    const rows = $("because-rows");
    let failed = null;
    const seeds = rated
      .filter(liked)
      .sort((a, b) => Number(b.rating) - Number(a.rating) || String(b.rated_at || "").localeCompare(String(a.rated_at || "")))
      .slice(0, N_BECAUSE_ROWS);
    const built = [];
    for (const seed of seeds) {
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
        if (err.status !== 404) failed = err;
      }
    }
    if (failed && !built.length) return failed; // keep the rows shown; refreshAll says so
    rows.replaceChildren(...built);
    if (!built.length) {
      rows.append(el("p", { class: "empty" }, "Rate a title you liked to see more like it."));
    }
    bump("because", rows);
    return failed;
  }

  // Everything about the visitor at once.  When the service fails, the lists shown stay
  // as they were and one message says they could not be refreshed.
  async function refreshAll(done) {
    const rated = await refreshRatings();
    const [picksErr, becauseErr] = await Promise.all([
      refreshPicks(),
      rated === null ? Promise.resolve(null) : refreshBecause(rated),
    ]);
    const err = picksErr || becauseErr || (rated === null ? new Error("the service failed") : null);
    if (err) {
      say(`Your lists could not be refreshed (${err.message}); they show what they showed before.`, true);
      document.body.setAttribute("data-stale", "true");
    } else {
      document.body.removeAttribute("data-stale");
      if (done) say(done);
    }
    return !err;
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
    say(`Saved ${stars}★ for ${title}.`);
    await refreshAll(`Saved ${stars}★ for ${title}. Your picks are updated.`);
  }

  // What Remove on row ``r`` deletes: the service's DELETE takes the item's rating and
  // its events together, so a title both rated and played loses both.  Said on the
  // button, not found out afterwards: Remove beside "Interacted 3 times" took the
  // visitor's 2★ with it, and the page said "Removed your rating".
  function removedWhat(r) {
    const kinds = state.stored.get(String(r.item_id)) || new Set([isEvent(r) ? "event" : "rating"]);
    if (kinds.has("rating") && kinds.has("event")) return "rating and interactions";
    return kinds.has("event") ? "interactions" : "rating";
  }

  function removeButton(r) {
    const what = removedWhat(r);
    const both = what === "rating and interactions";
    const label = `Remove your ${what} ${what === "interactions" ? "with" : "of"} ${titleOf(r)}`;
    const button = el("button", { type: "button", class: "remove", "data-testid": "remove-rating",
      "aria-label": label, title: label }, both ? "Remove both" : "Remove");
    button.addEventListener("click", () => unrate(r, what));
    return button;
  }

  async function unrate(r, what = "rating") {
    const title = titleOf(r);
    const about = `your ${what} ${what === "interactions" ? "with" : "of"} ${title}`;
    try {
      await api("DELETE", userPath(`ratings/${seg(r.item_id)}`));
    } catch (err) {
      say(`Could not remove ${about}: ${err.message}`, true);
      return;
    }
    state.ratings.delete(String(r.item_id));
    state.stored.delete(String(r.item_id));
    repaintItem(r.item_id, undefined);
    await refreshAll(`Removed ${about}. Your picks are updated.`);
  }

  // `quiet`: a refresh of the open panel (after the picks changed): no focus move.
  async function explain(item, button, { quiet = false } = {}) {
    const panel = $("explanation");
    const title = titleOf(item);
    try {
      const body = await api("GET", userPath(`explain/${seg(item.item_id)}`));
      $("explanation-title").textContent = body.item_title || title;
      $("term-mu").textContent = num(body.global_mean);
      $("term-bu").textContent = fmt(body.user_bias);
      $("term-bi").textContent = fmt(body.item_bias);
      $("term-dot").textContent = fmt(body.interaction);
      // The predicted rating is what predict answers (clipped to the scale), as the list
      // shows it; the raw sum of the terms is named where it differs.
      const clipped = Number(body.clipped ?? body.prediction);
      const raw = Number(body.prediction);
      $("term-prediction").textContent = num(clipped);
      const differs = num(raw) !== num(clipped);
      $("raw-row").hidden = !differs;
      $("term-raw").textContent = num(raw);
      // Only titles like this one support it; opposites (negative similarity) are no reason.
      const support = (body.supporting_items || []).filter((s) => Number(s.similarity) > 0);
      $("supporting").replaceChildren(
        ...support.map((s) =>
          el("li", { "data-testid": "supporting-item", "data-item-id": String(s.item_id) },
            titleOf(s), " ",
            // The visitor's own stars, where the service chose the titles by them.
            s.rating == null ? null : el("span", { class: "similarity", "data-testid": "supporting-rating" },
              `you rated ${num(s.rating, Number.isInteger(Number(s.rating)) ? 0 : 1)}★ · `),
            el("span", { class: "similarity" }, `similarity ${num(s.similarity)}`))),
      );
      if (!support.length) $("supporting").append(el("li", { class: "empty" }, "Nothing yet."));
      panel.hidden = false;
      panel.setAttribute("data-item-id", String(item.item_id));
      panel.setAttribute("data-prediction", String(clipped));
      state.explained = { item, button: button || (state.explained && state.explained.button) };
      bump("explanation", panel);
      if (!quiet) {
        say(""); // a search count or older news is not about this panel
        // Focus the panel's heading without scrolling the page away from the pick on a
        // narrow screen; Close hands focus back to the Why? button.
        $("explanation-heading").focus({ preventScroll: window.matchMedia("(max-width: 48rem)").matches });
      }
    } catch (err) {
      say(`No explanation for ${title}: ${err.message}`, true);
    }
  }

  function closeExplanation(returnFocus = true) {
    $("explanation").hidden = true;
    const open = state.explained;
    state.explained = null;
    if (returnFocus && open && open.button && document.contains(open.button)) open.button.focus();
  }

  async function search(event) {
    event.preventDefault();
    const params = new URLSearchParams();
    const text = $("search-input").value.trim();
    const genre = $("genre-input").value.trim();
    if (text) params.set("search", text);
    if (genre) params.set("genre", genre);
    params.set("n", String(N_SEARCH));
    state.search = { params, offset: 0, shown: 0 };
    await searchPage(false);
  }

  // One page of the search: `more` appends the next page ("Show more") to those shown.
  async function searchPage(more) {
    const list = $("search-results");
    const current = state.search;
    const params = new URLSearchParams(current.params);
    params.set("offset", String(current.offset));
    try {
      const body = await api("GET", `items?${params}`);
      const items = body.items || [];
      const rows = items.map((it) => itemRow(it, "search-result", [ratingWidget(it)]));
      if (more) list.append(...rows);
      else list.replaceChildren(...rows);
      current.shown += items.length;
      current.offset += items.length;
      if (!current.shown) list.append(el("li", { class: "empty" }, "No title matches."));
      $("search-more").hidden = !body.has_more;
      const n = current.shown;
      $("search-count").textContent = body.has_more
        ? `${n} of ${body.total} titles shown.`
        : `${n} title${n === 1 ? "" : "s"} found.`;
      say("");
    } catch (err) {
      $("search-count").textContent = "";
      $("search-more").hidden = true;
      if (!more) list.replaceChildren(); // no earlier results under a failed search
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
    closeExplanation(false);
  }

  async function useUser(event) {
    event.preventDefault();
    // Sent as typed: the service reads an id as the file readers do (without the
    // whitespace around it, unless the model holds it with that whitespace).  trim()
    // strips another set than theirs (U+FEFF, but not U+0085 or U+001C-U+001F).
    const userId = $("user-id").value;
    if (ONLY_SPACE.test(userId)) {
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
    $("my-ratings-list").replaceChildren(); // the previous visitor's, until the refresh
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
      if (rated !== null) await refreshBecause(rated);
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
    $("search-more").addEventListener("click", () => searchPage(true));
    $("more-varied").addEventListener("change", () => refreshPicks().then((err) => {
      if (err) say(`Your picks could not be refreshed (${err.message}).`, true);
    }));
    $("token-form").addEventListener("submit", (e) => e.preventDefault());
    $("explanation-close").addEventListener("click", closeExplanation);
    $("token").value = storageGet(TOKEN_KEY) || "";
    $("token").addEventListener("change", () => storageSet(TOKEN_KEY, $("token").value.trim()));
    document.addEventListener("keydown", (e) => {
      if (e.key === "Escape" && !$("explanation").hidden) closeExplanation();
    });
    try {
      const health = await api("GET", "health");
      if (Array.isArray(health.rating_scale)) state.scale = health.rating_scale.map(Number);
      state.predictsRatings = health.predicts_ratings !== false;
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
