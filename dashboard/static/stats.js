// Statistics page: compliance over time, people by verdict, busiest hours (Chart.js, vendored).
(function () {
  "use strict";
  const data = JSON.parse(document.getElementById("stats-data").textContent);
  const T = JSON.parse(document.getElementById("i18n-strings").textContent);
  const LANG = document.documentElement.lang || undefined;
  const dark = document.documentElement.dataset.theme === "dark";
  Chart.defaults.color = dark ? "#c9d4df" : "#3b4754";
  Chart.defaults.borderColor = dark ? "#2c3a49" : "#dde3ea";
  Chart.defaults.locale = LANG;
  // label ids, display names and colours: edge_agent/core/labels.py via dashboard/vocabulary.py (base.html)
  const vocab = JSON.parse(document.getElementById("maskwatch-vocab").textContent);
  const COLORS = ["#0b6bcb", "#1a7f37", "#8250df", "#b26a00", "#c62828", "#0a7c86", "#6e7781", "#bf3989"];
  // sites first (solid, thick), then cameras (dashed)
  const names = Object.keys(data.series).sort(function (a, b) {
    const sa = a.indexOf("site ") === 0, sb = b.indexOf("site ") === 0;
    return sa === sb ? (a < b ? -1 : a > b ? 1 : 0) : (sa ? -1 : 1);
  });
  const datasets = names.map(function (name, i) {
    const site = name.indexOf("site ") === 0;
    return {
      label: site ? T.site + " " + name.slice(5) : name,
      data: data.series[name].map(function (v) { return v === null ? null : Math.round(v * 1000) / 10; }),
      borderColor: COLORS[i % COLORS.length],
      backgroundColor: COLORS[i % COLORS.length],
      borderWidth: site ? 3 : 1.5,
      borderDash: site ? [] : [4, 3],
      pointRadius: data.labels.length > 60 ? 0 : 2,
      spanGaps: false,
      tension: 0.2,
    };
  });
  // the previous period of the same length, per site, aligned bucket by bucket (faint, dotted)
  Object.keys(data.previous || {}).sort().forEach(function (name) {
    const values = data.previous[name].slice(0, data.labels.length);
    datasets.push({
      label: T.site + " " + name.slice(5) + " (" + T.previous_period + ")",
      data: values.map(function (v) { return v === null ? null : Math.round(v * 1000) / 10; }),
      borderColor: "#8a96a3", backgroundColor: "#8a96a3", borderWidth: 1.5, borderDash: [2, 3],
      pointRadius: 0, spanGaps: false, tension: 0.2,
    });
  });
  const common = { responsive: true, maintainAspectRatio: false, animation: false };
  new Chart(document.getElementById("chart-compliance"), {
    type: "line",
    data: { labels: data.labels, datasets: datasets },
    options: Object.assign({}, common, {
      scales: { y: { min: 0, max: 100, title: { display: true, text: T.pct_with_mask } },
                x: { ticks: { maxTicksLimit: 12, autoSkip: true } } },
      plugins: { legend: { position: "bottom" } },
    }),
  });
  new Chart(document.getElementById("chart-verdicts"), {
    type: "bar",
    data: {
      labels: vocab.labels.map(function (l) { return vocab.names[l]; }),
      datasets: [{ label: T.people, data: vocab.labels.map(function (l) { return data.people[l]; }),
                   backgroundColor: vocab.labels.map(function (l) { return vocab.colours[l]; }) }],
    },
    options: Object.assign({}, common, { plugins: { legend: { display: false } } }),
  });
  new Chart(document.getElementById("chart-hours"), {
    type: "bar",
    data: {
      labels: data.busiest_hours.map(function (_, h) { return (h < 10 ? "0" : "") + h + ":00"; }),
      datasets: [{ label: T.people, data: data.busiest_hours, backgroundColor: "#0b6bcb" }],
    },
    options: Object.assign({}, common, { plugins: { legend: { display: false } } }),
  });
  document.body.dataset.chartsReady = "1";
})();
