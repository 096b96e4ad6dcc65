// MaskWatch pages: refresh live tiles, poll the latest violations, draw snapshot boxes. No inline scripts (CSP).
(function () {
  "use strict";
  // strings in the page's language, rendered by the server (dashboard/i18n.py JS_STRINGS); label ids and
  // display names (translated): edge_agent/core/labels.py via dashboard/vocabulary.py, rendered by base.html
  const T = JSON.parse((document.getElementById("i18n-strings") || {}).textContent || "{}");
  const vocabEl = document.getElementById("maskwatch-vocab");
  const LABELS = vocabEl ? JSON.parse(vocabEl.textContent).names : {};
  const LANG = document.documentElement.lang || undefined;

  // Live images: poll the latest frame with If-None-Match (an unchanged frame is a tiny 304), quickly while
  // frames change (up to maxFps), backing off to maxDelay while they do not and when the tab is hidden.
  // Each poll is a short request: no server thread is held per viewer.
  const livePoller = function (img, url, maxFps, maxDelay) {
    let etag = null, delay = 1000 / maxFps, shown = null, started = 0;
    const minDelay = 1000 / maxFps;
    const next = function () {
      // the interval counts from the start of the last poll, so a slow round trip does not lower the rate
      const wait = document.hidden ? Math.max(maxDelay, 5000) : delay - (performance.now() - started);
      setTimeout(tick, Math.max(0, wait));
    };
    const tick = function () {
      started = performance.now();
      const headers = etag ? { "If-None-Match": etag } : {};
      fetch(url, { credentials: "same-origin", cache: "no-store", headers: headers })
        .then(function (r) {
          if (r.status === 304) { delay = Math.min(maxDelay, delay * 1.5); return null; }
          if (!r.ok) throw new Error(r.status);
          etag = r.headers.get("ETag");
          delay = minDelay;
          return r.blob();
        })
        .then(function (blob) {
          if (!blob) return;
          const u = URL.createObjectURL(blob);
          img.src = u;
          if (shown) URL.revokeObjectURL(shown);
          shown = u;
        })
        .catch(function () { delay = maxDelay; })
        .then(next);
    };
    tick();
  };
  document.querySelectorAll("img.live-tile").forEach(function (img) {
    livePoller(img, img.dataset.src, 1, 4000);
  });
  const live = document.getElementById("live");
  if (live && live.dataset.src) livePoller(live, live.dataset.src, Number(live.dataset.maxFps) || 8, 2000);

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

  // Snapshot viewer: outline the face box. The snapshot shows a region of the frame (data-region, frame
  // pixels), so the box is placed relative to that region, in % so it scales with the image.
  document.querySelectorAll(".snapshot[data-box]").forEach(function (el) {
    const b = el.dataset.box.split(",").map(Number);
    const r = (el.dataset.region || "").split(",").map(Number);
    if (b.length !== 4 || r.length !== 4) return;
    const rw = r[2] - r[0], rh = r[3] - r[1];
    if (!(rw > 0 && rh > 0)) return;
    const box = document.createElement("div");
    box.className = "box";
    box.style.left = (100 * (b[0] - r[0]) / rw) + "%";
    box.style.top = (100 * (b[1] - r[1]) / rh) + "%";
    box.style.width = (100 * (b[2] - b[0]) / rw) + "%";
    box.style.height = (100 * (b[3] - b[1]) / rh) + "%";
    el.append(box);
  });
})();
