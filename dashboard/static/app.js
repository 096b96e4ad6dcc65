// MaskWatch pages: refresh live tiles, poll the latest violations, draw snapshot boxes. No inline scripts (CSP).
(function () {
  "use strict";
  // strings in the page's language, rendered by the server (dashboard/i18n.py JS_STRINGS); label ids and
  // display names (translated): edge_agent/core/labels.py via dashboard/vocabulary.py, rendered by base.html
  const T = JSON.parse((document.getElementById("i18n-strings") || {}).textContent || "{}");
  const vocabEl = document.getElementById("maskwatch-vocab");
  const LABELS = vocabEl ? JSON.parse(vocabEl.textContent).names : {};
  const LANG = document.documentElement.lang || undefined;

  // Overview tiles: a still frame every 2 s (keeps server threads free; the camera page streams MJPEG).
  const tiles = document.querySelectorAll("img.live-tile");
  if (tiles.length) {
    setInterval(function () {
      tiles.forEach(function (img) { img.src = img.dataset.src + "?t=" + Date.now(); });
    }, 2000);
  }

  // Camera page: the MJPEG stream ends after a while (or on a network error); reconnect.
  const live = document.getElementById("live");
  if (live && live.dataset.mjpeg) {
    let retry = null;
    const reconnect = function () {
      if (retry) return;
      retry = setTimeout(function () { retry = null; live.src = live.dataset.mjpeg + "?t=" + Date.now(); }, 2000);
    };
    live.addEventListener("error", reconnect);
    setInterval(function () { if (!live.complete || live.naturalWidth === 0) reconnect(); }, 15000);
  }

  // Latest violations list: poll the JSON API, highlight new entries.
  const list = document.getElementById("recent-violations");
  if (list && list.dataset.api) {
    const seen = new Set();
    let first = true;
    // the camera's site's zone (camera page) or the dashboard's, as the server renders; the page's language
    const tz = list.dataset.tz || document.body.dataset.tz || undefined;
    const fmt = function (iso) {
      try { return new Date(iso).toLocaleString(LANG, { timeZone: tz, timeZoneName: "short" }); }
      catch (e) { return new Date(iso).toLocaleString(); }
    };
    const render = function (items) {
      const frag = document.createDocumentFragment();
      items.forEach(function (e) {
        const li = document.createElement("li");
        li.dataset.eventId = e.event_id;
        if (!first && !seen.has(e.event_id)) li.className = "new";
        const a = document.createElement("a");
        a.href = "/events/" + encodeURIComponent(e.event_id);
        a.textContent = fmt(e.time);
        const cam = document.createElement("span");
        cam.className = "muted";
        cam.textContent = e.site + "/" + e.camera;
        const v = document.createElement("span");
        v.className = "verdict " + e.verdict;
        v.textContent = LABELS[e.verdict] || e.verdict;
        li.append(a, " ", v, " ", cam);
        frag.append(li);
        seen.add(e.event_id);
      });
      list.replaceChildren(frag);
      if (!items.length) {
        const li = document.createElement("li");
        li.className = "muted";
        li.textContent = T.no_violations_yet;
        list.append(li);
      }
      first = false;
    };
    const poll = function () {
      fetch(list.dataset.api, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (r) { if (!r.ok) throw new Error(r.status); return r.json(); })
        .then(function (d) { render(d.items); })
        .catch(function () { /* keep the last list; try again */ });
    };
    poll();
    setInterval(poll, 3000);
  }

  // Snapshot viewer: outline the face box (positions in % of the frame, so it scales with the image).
  document.querySelectorAll(".snapshot[data-box]").forEach(function (el) {
    const b = el.dataset.box.split(",").map(Number);
    const f = el.dataset.frame.split(",").map(Number);
    if (b.length !== 4 || !f[0] || !f[1]) return;
    const box = document.createElement("div");
    box.className = "box";
    box.style.left = (100 * b[0] / f[0]) + "%";
    box.style.top = (100 * b[1] / f[1]) + "%";
    box.style.width = (100 * (b[2] - b[0]) / f[0]) + "%";
    box.style.height = (100 * (b[3] - b[1]) / f[1]) + "%";
    el.append(box);
  });
})();
