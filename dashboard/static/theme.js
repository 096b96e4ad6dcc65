// Light/dark theme: the system's (prefers-color-scheme) unless the user chose one with the header toggle.
// Loaded in <head> (not inline: the CSP forbids inline scripts) so the page does not flash the wrong theme.
(function () {
  "use strict";
  const KEY = "maskwatch-theme";
  const root = document.documentElement;
  const stored = function () { try { return localStorage.getItem(KEY); } catch (e) { return null; } };
  const system = function () { return window.matchMedia && matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "light"; };
  const apply = function (theme) { root.dataset.theme = theme; };
  apply(stored() || system());
  document.addEventListener("DOMContentLoaded", function () {
    const button = document.getElementById("theme-toggle");
    if (!button) return;
    const t = JSON.parse((document.getElementById("i18n-strings") || {}).textContent || "{}");
    const label = function () {
      const dark = root.dataset.theme === "dark";
      button.setAttribute("aria-pressed", dark ? "true" : "false");
      button.textContent = dark ? (t.light || "Light") : (t.dark || "Dark");
    };
    label();
    button.addEventListener("click", function () {
      const next = root.dataset.theme === "dark" ? "light" : "dark";
      apply(next);
      try { localStorage.setItem(KEY, next); } catch (e) { /* private mode: this page only */ }
      label();
    });
    if (window.matchMedia) {
      matchMedia("(prefers-color-scheme: dark)").addEventListener("change", function () {
        if (!stored()) { apply(system()); label(); }
      });
    }
    const print = document.getElementById("print-report");
    if (print) print.addEventListener("click", function () { window.print(); });
  });
})();
