// Live cluster status: polls the JSON endpoint every second and redraws, without reloads.
(function () {
  "use strict";
  const root = document.getElementById("rt-status");
  const url = root.dataset.url;
  const $ = (id) => document.getElementById(id);

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (key === "class") node.className = value; else node.setAttribute(key, value);
    }
    for (const child of children) node.append(child instanceof Node ? child : String(child ?? ""));
    return node;
  }

  function badge(text, kind) { return el("span", { class: `rt-badge rt-${kind}` }, text); }

  function duration(seconds) {
    seconds = Math.max(0, Math.round(seconds));
    if (seconds < 60) return `${seconds}s`;
    if (seconds < 3600) return `${Math.floor(seconds / 60)}m ${seconds % 60}s`;
    const hours = Math.floor(seconds / 3600);
    return hours < 48 ? `${hours}h ${Math.floor((seconds % 3600) / 60)}m` : `${Math.floor(hours / 24)}d`;
  }

  function renderNodes(data) {
    const body = $("rt-nodes").tBodies[0];
    body.replaceChildren(...data.nodes.map((n) => el("tr", { "data-node": n.name },
      el("td", {}, el("strong", {}, n.name), n.is_self ? " (this node)" : ""),
      el("td", {}, n.state === "alive" ? badge("alive", "ok") : badge(n.state, "warn")),
      el("td", {}, `${n.host} / ${n.pid}`),
      el("td", {}, duration(n.uptime)),
      el("td", {}, n.connections),
      el("td", {}, n.users),
      el("td", {}, n.rooms),
      el("td", {}, n.is_self ? "now" : `${n.seen_ago.toFixed(1)}s ago`),
      el("td", {}, n.dropped ? badge(String(n.dropped), "warn") : "0"),
      el("td", {}, n.version))));
    $("rt-departed").textContent = data.departed.length
      ? "Recently left: " + data.departed.map((d) => `${d.name} (${duration(d.left_ago)} ago)`).join(", ")
      : "";
  }

  function redisCell(entry) {
    if (!entry) return el("td", {}, "—");
    const ok = entry.healthy;
    const cell = el("td", { class: "rt-cell", "data-health": ok ? "healthy" : "unhealthy" },
      ok ? badge("healthy", "ok") : badge("unhealthy", "bad"), " ",
      entry.publish_ok ? "" : badge("publish down", "bad"), " ",
      entry.subscribe_ok === false ? badge("subscribe down", "bad") : "", " ",
      entry.excluded ? badge("avoided", "warn") : "");
    const latency = entry.latency_ms == null ? "–" : `${Number(entry.latency_ms).toFixed(2)} ms`;
    cell.append(el("small", {}, `${ok ? "latency" : "last latency"} ${latency}`));
    if (entry.deployment && entry.deployment !== "standalone") cell.append(el("small", { class: "rt-deployment" }, entry.deployment));
    if (entry.excluded) cell.append(el("small", {}, "avoided by publishers: a server node cannot read it"));
    if (entry.last_error) cell.append(el("small", {}, `last error: ${entry.last_error}`));
    if (entry.since) cell.append(el("small", {}, `since ${new Date(entry.since * 1000).toLocaleTimeString()}`));
    return cell;
  }

  function renderRedis(data) {
    const table = $("rt-redis");
    $("rt-no-redis").hidden = data.redis_nodes.length > 0;
    table.hidden = data.redis_nodes.length === 0;
    table.tHead.replaceChildren(el("tr", {}, el("th", {}, "Redis node"),
      ...data.nodes.map((n) => el("th", {}, `seen by ${n.name}`))));
    table.tBodies[0].replaceChildren(...data.redis_nodes.map((key) => el("tr", { "data-redis": key },
      el("td", {}, el("code", {}, key)),
      ...data.nodes.map((n) => redisCell(n.redis.find((entry) => entry.key === key))))));
  }

  function renderCharts(data) {
    const width = 320, height = 80;
    const charts = Object.entries(data.latency_history).map(([key, samples]) => {
      const values = samples.map((s) => s[1]).filter((v) => v != null);
      const max = Math.max(1, ...values);
      const t0 = samples.length ? samples[0][0] : 0;
      const span = Math.max(1, (samples.length ? samples[samples.length - 1][0] : 1) - t0);
      const points = samples.filter((s) => s[1] != null)
        .map((s) => `${((s[0] - t0) / span) * width},${height - (s[1] / max) * (height - 4)}`).join(" ");
      const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
      svg.setAttribute("width", width); svg.setAttribute("height", height);
      const line = document.createElementNS("http://www.w3.org/2000/svg", "polyline");
      line.setAttribute("points", points);
      svg.append(line);
      const last = samples.length ? samples[samples.length - 1][1] : null;
      return el("div", { class: "rt-chart" },
        el("h3", {}, `${key} — now ${last == null ? "down" : last.toFixed(2) + " ms"}, max ${max.toFixed(2)} ms`), svg);
    });
    $("rt-charts").replaceChildren(...(charts.length ? charts : [el("p", { class: "rt-meta" }, "No samples.")]));
  }

  function renderCounters(data) {
    const table = $("rt-counters");
    table.tHead.replaceChildren(el("tr", {}, el("th", {}, "counter"),
      ...data.nodes.map((n) => el("th", {}, n.name))));
    table.tBodies[0].replaceChildren(...data.counters.map((name) => el("tr", { "data-counter": name },
      el("td", {}, el("code", {}, name)),
      ...data.nodes.map((n) => el("td", {}, (n.counters || {})[name] ?? "–")))));
  }

  async function refresh() {
    try {
      const response = await fetch(url, { credentials: "same-origin", cache: "no-store" });
      if (!response.ok) throw new Error(`status endpoint answered ${response.status}`);
      const data = await response.json();
      $("rt-mode").textContent = data.mode;
      $("rt-serving").textContent = data.serving_node;
      $("rt-updated").textContent = new Date(data.generated * 1000).toLocaleTimeString();
      renderNodes(data);
      renderRedis(data);
      renderCharts(data);
      renderCounters(data);
      $("rt-error").hidden = true;
    } catch (error) {
      $("rt-error").textContent = `Cannot refresh: ${error.message}`;
      $("rt-error").hidden = false;
    } finally {
      setTimeout(refresh, 1000);
    }
  }

  refresh();
})();
