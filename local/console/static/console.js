// The Sluice local console: polls the control server's JSON and draws the dashboards with plain SVG.
"use strict";

const COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf"];
const SVG = "http://www.w3.org/2000/svg";
const OVERVIEW_SECONDS = 2;
const OFF_SCALE_FACTOR = 1.25;
let period = 10;
let dashboardTimer = null;
let dashboardRound = 0; // a newer refresh (a new time range) supersedes one still in flight

function el(tag, attributes = {}, ...children) {
  const node = tag.startsWith("svg:") ? document.createElementNS(SVG, tag.slice(4)) : document.createElement(tag);
  for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, value);
  for (const child of children) node.append(child);
  return node;
}

function compact(value) {
  const size = Math.abs(value);
  for (const [factor, suffix] of [[1e9, "G"], [1e6, "M"], [1e3, "k"]]) {
    if (size >= factor) return `${+(value / factor).toPrecision(3)}${suffix}`;
  }
  return `${+value.toPrecision(3)}`;
}

function clock(epoch) {
  return new Date(epoch * 1000).toISOString().slice(11, 19);
}

async function getJson(path, options) {
  const response = await fetch(path, options);
  const body = await response.json();
  if (!response.ok) throw new Error(body.message || `${path}: ${response.status}`);
  return body;
}

function say(text) {
  document.getElementById("status").textContent = text;
}

// --- dashboards ---------------------------------------------------------------------------------------

function niceTop(value) {
  const step = 10 ** Math.floor(Math.log10(value));
  for (const multiple of [1, 2, 2.5, 5, 10]) if (multiple * step >= value) return multiple * step;
  return 10 * step;
}

// Tick times on a round step, as many as fit, each label whole inside the axis and a label's width from the next
// (as local/console/dashboard_figure.py)
const TICK_STEPS = [10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400];
function timeTicks(start, end, width) {
  for (const step of TICK_STEPS) {
    const label = step % 60 === 0 ? 30 : 44; // pixels a 9-px "HH:MM" or "HH:MM:SS" label needs, a gap included
    const margin = (label / 2) * (end - start) / Math.max(width, 1);
    const ticks = [];
    for (let t = Math.ceil((start + margin) / step) * step; t <= end - margin; t += step) ticks.push(t);
    const apart = (step * width) / Math.max(end - start, 1);
    if (apart >= label && ticks.length * label <= width) return { ticks, minutes: step % 60 === 0 };
  }
  return { ticks: [], minutes: true };
}

// A graph of two units draws the second on a right y axis, with its own unit, ticks and scale.
function drawChart(widget, start, end, width, height) {
  const twoAxes = Boolean(widget.right_unit);
  const left = 46, right = twoAxes ? 46 : 6, top = 6, bottom = 16;
  const svg = el("svg:svg", { viewBox: `0 0 ${width} ${height}`, width, height, class: "chart" });
  const plotWidth = width - left - right, plotHeight = height - top - bottom;
  const sideOf = (item) => (twoAxes && item.axis === "right" ? "right" : "left");
  const dataMax = { left: 0, right: 0 };
  let drawn = 0;
  for (const series of widget.series) {
    const side = sideOf(series);
    for (const [, value] of series.points || []) dataMax[side] = Math.max(dataMax[side], value);
    for (const [, , high] of series.band || []) dataMax[side] = Math.max(dataMax[side], high);
  }
  const lines = widget.annotations || [];
  const yTop = {};
  for (const side of ["left", "right"]) {
    const own = lines.filter((line) => sideOf(line) === side).map((line) => line.value).filter((value) => value > 0);
    const lowest = Math.min(...own, Infinity);
    yTop[side] = niceTop(Math.max(dataMax[side], lowest === Infinity ? 0 : lowest, 1) * OFF_SCALE_FACTOR);
  }
  const x = (t) => left + ((t - start) / (end - start)) * plotWidth;
  const y = (v, side = "left") => top + plotHeight - (v / yTop[side]) * plotHeight;
  for (const fraction of [0, 0.5, 1]) {
    const value = yTop.left * fraction;
    svg.append(el("svg:line", { x1: left, x2: width - right, y1: y(value), y2: y(value), stroke: "#eaeded" }));
    svg.append(el("svg:text", { x: left - 3, y: y(value) + 3, "text-anchor": "end", class: "value left" }, compact(value)));
    if (twoAxes) {
      const rightValue = yTop.right * fraction;
      svg.append(el("svg:text", { x: width - right + 3, y: y(rightValue, "right") + 3, "text-anchor": "start", class: "value right" }, compact(rightValue)));
    }
  }
  const { ticks, minutes } = timeTicks(start, end, plotWidth);
  for (const t of ticks) {
    svg.append(el("svg:text", { x: x(t), y: height - 3, "text-anchor": "middle", class: "tick" }, minutes ? clock(t).slice(0, 5) : clock(t)));
  }
  // each y axis' unit, read upwards beside its values
  svg.append(el("svg:text", { transform: `translate(9 ${top + plotHeight / 2}) rotate(-90)`, "text-anchor": "middle", class: "unit" }, widget.unit || "Count"));
  if (twoAxes) {
    svg.append(el("svg:text", { transform: `translate(${width - 4} ${top + plotHeight / 2}) rotate(-90)`, "text-anchor": "middle", class: "unit right" }, widget.right_unit));
  }
  const legend = el("div", { class: "legend" });
  widget.series.forEach((series, index) => {
    const color = series.color || COLORS[index % COLORS.length];
    const side = sideOf(series);
    if (series.band) {
      if (series.band.length) {
        const upper = series.band.map(([t, , high]) => `${x(t)},${y(high, side)}`);
        const lower = series.band.map(([t, low]) => `${x(t)},${y(Math.max(low, 0), side)}`).reverse();
        svg.append(el("svg:polygon", { points: [...upper, ...lower].join(" "), fill: color, opacity: 0.3 }));
        drawn += series.band.length;
      }
    } else {
      // a gap of more than one period breaks the line; a point with no neighbour is drawn as a dot
      const points = series.points;
      let run = [];
      const flush = () => {
        if (run.length === 1) {
          svg.append(el("svg:circle", { cx: x(run[0][0]), cy: y(run[0][1], side), r: 2.5, fill: color }));
        } else if (run.length > 1) {
          const path = run.map(([t, v]) => `${x(t)},${y(v, side)}`).join(" ");
          svg.append(el("svg:polyline", { points: path, fill: "none", stroke: color, "stroke-width": 1.5 }));
        }
        run = [];
      };
      points.forEach((point, position) => {
        if (position && point[0] - points[position - 1][0] > period * 1.5) flush();
        run.push(point);
      });
      flush();
      drawn += points.length;
    }
    legend.append(el("span", {}, el("i", { style: `background:${color}` }), series.label));
  });
  const offScale = [];
  for (const line of lines) {
    const color = line.color || "#d62728";
    const side = sideOf(line);
    if (line.value <= yTop[side]) {
      svg.append(el("svg:line", {
        x1: left, x2: width - right, y1: y(line.value, side), y2: y(line.value, side),
        stroke: color, "stroke-dasharray": "4 3", class: "threshold",
      }));
      legend.append(el("span", {}, el("i", { style: `background:${color}` }), line.label));
    } else {
      offScale.push(`${line.label}: ${compact(line.value)}`);
    }
  }
  if (offScale.length) legend.append(el("span", {}, `off scale: ${offScale.join("; ")}`));
  if (!drawn) svg.append(el("svg:text", { x: width / 2, y: height / 2, "text-anchor": "middle" }, "no data"));
  svg.dataset.points = String(drawn);
  return { svg, legend };
}

// A graph is drawn at the size its grid cell gives it, so text is never stretched: after layout.
function drawPendingCharts(root, start, end) {
  const size = (slot) => [Math.max(slot.clientWidth, 60), Math.max(slot.clientHeight, 40)];
  for (const slot of root.querySelectorAll(".plot")) {
    slot.after(drawChart(slot.widget, start, end, ...size(slot)).legend); // the legend takes its room first
    slot.replaceChildren(drawChart(slot.widget, start, end, ...size(slot)).svg);
  }
}

function drawTiles(widget) {
  const tiles = el("div", { class: "tiles" });
  for (const series of widget.series) {
    const value = series.value === null || series.value === undefined ? "—" : compact(series.value);
    tiles.append(el("div", { class: "tile", "data-points": String(series.points.length) }, el("b", {}, value), el("small", {}, series.label)));
  }
  return [tiles];
}

// The local gateway's requests per producer: every cell goes in as text; the note is markdown_to_html's.
function drawProducers(widget) {
  const head = el("tr", {}, ...widget.headers.map((header) => el("th", {}, header)));
  const rows = widget.rows.map((row) => el("tr", {}, ...row.map((cell) => el("td", {}, String(cell)))));
  if (widget.unknown_refused) {
    rows.push(el("tr", {}, el("td", {}, "(no known key)"), el("td", {}, "-"), el("td", {}, "-"), el("td", {}, "0"),
      el("td", {}, "0"), el("td", {}, "0"), el("td", {}, String(widget.unknown_refused))));
  }
  const note = el("div", { class: "note" });
  note.innerHTML = widget.note_html; // markdown_to_html escaped its text and drew links to http(s), paths and anchors only
  return [el("div", { class: "producers" }, el("table", {}, el("thead", {}, head), el("tbody", {}, ...rows))), note];
}

function drawWidget(widget) {
  const box = el("div", {
    class: `widget ${widget.type}`,
    style: `grid-column: ${widget.x + 1} / span ${widget.width}; grid-row: ${widget.y + 1} / span ${widget.height}`,
  });
  if (widget.type === "text") {
    box.innerHTML = widget.html; // markdown_to_html escaped its text and drew links to http(s), paths and anchors only
    return box;
  }
  box.append(el("h4", { title: widget.title }, widget.title));
  box.dataset.title = widget.title;
  if (widget.type === "producers") {
    box.append(...drawProducers(widget));
    return box;
  }
  if (widget.type === "alarm") {
    const grid = el("div", { class: "alarm-grid" });
    for (const alarm of widget.alarms) {
      grid.append(el("span", { "data-alarm": alarm.name, "data-state": alarm.state },
        el("span", { class: `state ${alarm.state}` }, alarm.state === "INSUFFICIENT_DATA" ? "NO DATA" : alarm.state), ` ${alarm.name}`));
    }
    box.append(grid);
    return box;
  }
  box.classList.add(widget.view);
  if (widget.view === "singleValue") {
    box.append(...drawTiles(widget));
  } else {
    const slot = el("div", { class: "plot" });
    slot.widget = widget;
    box.append(slot);
  }
  return box;
}

async function refreshDashboards() {
  clearTimeout(dashboardTimer);
  const round = ++dashboardRound;
  try {
    const minutes = document.getElementById("window").value;
    const names = await getJson("/console/api/dashboards");
    const container = document.getElementById("dashboards");
    for (const name of names) {
      const query = new URLSearchParams({ name, minutes });
      const dashboard = await getJson(`/console/api/dashboard?${query}`);
      period = dashboard.period;
      const grid = el("div", { class: "grid" });
      for (const widget of dashboard.widgets) grid.append(drawWidget(widget));
      const section = el("section", { class: "dashboard", id: `dashboard-${name}`, "data-name": name },
        el("h2", {}, `${name}  (${clock(dashboard.start)} – ${clock(dashboard.end)} UTC, period ${dashboard.period} s)`), grid);
      const old = document.getElementById(`dashboard-${name}`);
      if (old) old.replaceWith(section); else container.append(section);
      drawPendingCharts(section, dashboard.start, dashboard.end);
    }
    say(`dashboards updated ${clock(Date.now() / 1000)} UTC; every ${period} s`);
  } catch (error) {
    say(`dashboards: ${error.message}`);
  }
  if (round === dashboardRound) dashboardTimer = setTimeout(refreshDashboards, period * 1000);
}

// --- overview -----------------------------------------------------------------------------------------

function showCounts(counts) {
  const rows = [
    ["ingest queue: waiting", counts.queue.visible],
    ["ingest queue: in flight (cap)", `${counts.queue.in_flight} (of ${counts.in_flight_limit})`],
    ["dead-letter queue: waiting", counts.dead_letter.visible], ["dead-letter queue: in flight", counts.dead_letter.in_flight],
    ["undeliverable notifications", counts.failures.visible],
    ["events stored (table items)", counts.table_items], ["archive objects", counts.archive_objects],
    ["parked objects (store failing)", counts.parked_objects], ["circuit breaker", counts.breaker],
  ];
  document.getElementById("counts").replaceChildren(...rows.flatMap(([label, value]) => [el("dt", {}, label), el("dd", {}, String(value))]));
}

function showFaults(faults) {
  const rows = faults.map((fault) => {
    const active = fault.seconds_left !== null && fault.seconds_left !== undefined;
    const button = active
      ? el("button", { type: "button", "data-fault": fault.name, "data-action": "lift" }, "lift")
      : el("button", { type: "button", "data-fault": fault.name, "data-action": "inject" }, "inject");
    const state = active ? ` active, ${Math.round(fault.seconds_left)} s left` : "";
    return el("tr", { "data-fault-row": fault.name }, el("td", {}, el("b", {}, fault.name), state, el("br"), el("small", {}, fault.description)), el("td", {}, button));
  });
  document.getElementById("faults").replaceChildren(...rows);
}

function showAlarms(alarms) {
  const items = alarms.map((alarm) => {
    const item = el("li", { "data-alarm": alarm.name, "data-state": alarm.state },
      el("span", { class: `state ${alarm.state}` }, alarm.state === "INSUFFICIENT_DATA" ? "NO DATA" : alarm.state),
      ` ${alarm.name} `, el("span", { class: "tier" }, alarm.tier));
    if (alarm.state !== "OK" && alarm.reason) item.append(el("div", { class: "reason" }, alarm.reason));
    if (alarm.history.length) {
      const history = alarm.history.slice(0, 5).map((t) => `${clock(t.time)} ${t.old} → ${t.new}`).join(" · ");
      item.append(el("div", { class: "history" }, history));
    }
    return item;
  });
  document.getElementById("alarms").replaceChildren(...items);
}

function showFeed(feed, digest) {
  const items = feed.map((entry) => el("li", { "data-alarm": entry.alarm, "data-new": entry.new },
    `${clock(entry.time)} `, el("span", { class: `state ${entry.new}` }, entry.new), ` ${entry.alarm}`, el("div", { class: "reason" }, entry.delivery)));
  document.getElementById("feed").replaceChildren(...(items.length ? items : [el("li", {}, "nothing sent yet")]));
  const box = document.getElementById("digest");
  const sent = digest.last_sent ? [el("p", {}, `last digest sent ${digest.last_sent.at} (${digest.last_sent.notifications} notifications)`)] : [];
  if (!digest.held) {
    box.replaceChildren(el("p", {}, "nothing held"), ...sent);
  } else {
    box.replaceChildren(el("p", {}, `${digest.held} held; goes out ${digest.at}`), el("pre", {}, `Subject: ${digest.subject}\n\n${digest.message}`), ...sent);
  }
}

function showLocust(locust) {
  const span = document.getElementById("locust");
  if (locust) span.replaceChildren(el("a", { href: locust.url, target: "_blank", rel: "noopener" }, "Locust web UI (load test running)"));
  else span.replaceChildren();
}

async function refreshOverview() {
  try {
    const overview = await getJson("/console/api/overview");
    period = overview.period;
    showCounts(overview.counts);
    showFaults(overview.faults);
    showAlarms(overview.alarms);
    showFeed(overview.feed, overview.digest);
    showLocust(overview.locust);
  } catch (error) {
    say(`overview: ${error.message}`);
  }
  setTimeout(refreshOverview, OVERVIEW_SECONDS * 1000);
}

async function onFaultClick(event) {
  const button = event.target.closest("button[data-fault]");
  if (!button) return;
  const seconds = button.dataset.action === "lift" ? 0 : Number(document.getElementById("fault-seconds").value);
  try {
    await getJson("/chaos", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ fault: button.dataset.fault, seconds }) });
    say(`${button.dataset.fault} ${seconds ? `injected for ${seconds} s` : "lifted"}`);
  } catch (error) {
    say(`fault: ${error.message}`);
  }
}

async function onReplay() {
  const result = document.getElementById("replay-result");
  result.textContent = "replaying …";
  try {
    const outcome = await getJson("/console/api/replay", { method: "POST", headers: { "Content-Type": "application/json" }, body: "{}" });
    result.textContent = `${outcome.sent} of ${outcome.replayable} archived events sent back to the queue` + (outcome.failed ? `, ${outcome.failed} failed` : "");
  } catch (error) {
    result.textContent = `replay failed: ${error.message}`;
  }
}

document.getElementById("faults").addEventListener("click", onFaultClick);
document.getElementById("replay").addEventListener("click", onReplay);
document.getElementById("window").addEventListener("change", refreshDashboards);
refreshOverview();
refreshDashboards();
