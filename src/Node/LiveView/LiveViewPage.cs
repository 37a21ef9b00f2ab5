using System.Net;
using System.Text.Json;

namespace ClusterActors.Node.LiveView;

/// <summary>
/// The one page of `lab view`, self-contained: inline CSS and script, the topology's SVG inline, and the current
/// snapshot, the events so far and the drills embedded as JSON so that the first paint already shows the lab (a
/// headless browser's screenshot needs no wait for the stream). The script then follows `/events` (server-sent events)
/// and posts a drill's button to `/drills/NAME`. Nothing is fetched from elsewhere.
/// </summary>
public static class LiveViewPage
{
    /// <summary>The header the page's POST carries: a form on another site cannot send it without a CORS preflight,
    /// which this server never answers, so no other page in the operator's browser can start a drill.</summary>
    public const string DrillHeader = "X-ClusterActors-View";

    public static string Render(LiveViewHub hub, string svg)
    {
        var init = JsonSerializer.Serialize(new
        {
            topology = hub.Topology.Name,
            snapshot = hub.Snapshot is { } s ? JsonDocument.Parse(LiveViewModel.ToJson(s)).RootElement : (JsonElement?)null,
            events = hub.History.Select(e => JsonDocument.Parse(LiveViewModel.ToJson(e)).RootElement).ToList(),
            drills = hub.Drills.Select(d => new { name = d.Name, title = d.Title }),
            drillHeader = DrillHeader,
        }).Replace("<", "\\u003c"); // nothing in the JSON can close the script element
        var title = WebUtility.HtmlEncode($"ClusterActors live view: {hub.Topology.Name}");
        return Template
            .Replace("{{TITLE}}", title)
            .Replace("{{DESCRIPTION}}", WebUtility.HtmlEncode(hub.Topology.Description))
            .Replace("{{SVG}}", svg)
            .Replace("{{INIT}}", init);
    }

    private const string Template = """
<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{{TITLE}}</title>
<style>
  body { font-family: "DejaVu Sans", Helvetica, Arial, sans-serif; margin: 0; background: #f6f7f9; color: #1d232b; font-size: 13px; }
  header { background: #1f2d3d; color: #fff; padding: 8px 16px; display: flex; gap: 24px; align-items: baseline; }
  header h1 { font-size: 16px; margin: 0; }
  header .state { font-weight: bold; }
  main { display: grid; grid-template-columns: minmax(0, 5fr) minmax(420px, 6fr); gap: 12px; padding: 12px; }
  section { background: #fff; border: 1px solid #d5dae1; border-radius: 4px; padding: 8px 10px; margin-bottom: 12px; }
  h2 { font-size: 13px; margin: 0 0 6px 0; text-transform: uppercase; letter-spacing: .04em; color: #4a5868; }
  #topology svg { width: 100%; height: auto; max-height: 88vh; }
  table { border-collapse: collapse; width: 100%; }
  th, td { text-align: left; padding: 2px 6px; border-bottom: 1px solid #eef0f3; white-space: nowrap; }
  td.num { text-align: right; font-variant-numeric: tabular-nums; }
  .ha { padding: 1px 6px; border-radius: 3px; color: #fff; font-weight: bold; }
  .ha-primary { background: #2e8b3e; } .ha-secondary { background: #2f6db5; } .ha-hello { background: #c98a1b; } .ha-silent { background: #8a8f96; }
  .alive { color: #2e8b3e; font-weight: bold; } .dead { color: #c0392b; font-weight: bold; }
  .owner { font-weight: bold; }
  #drills button { margin: 2px 4px 2px 0; padding: 4px 8px; font-size: 12px; cursor: pointer; }
  #drills button:disabled { cursor: default; }
  #drill-status { margin-top: 4px; color: #4a5868; min-height: 1.2em; }
  #events { list-style: none; margin: 0; padding: 0; max-height: 40vh; overflow-y: auto; font-family: "DejaVu Sans Mono", monospace; font-size: 12px; }
  #events li { padding: 1px 0; border-bottom: 1px solid #f0f1f3; }
  #events .at { color: #8a8f96; margin-right: 6px; }
  #events .kind { display: inline-block; width: 58px; font-weight: bold; }
  .k-role { color: #2f6db5; } .k-tunnel { color: #2e8b3e; } .k-nexthop { color: #8e44ad; } .k-fault { color: #c0392b; } .k-drill { color: #4a5868; } .k-lab { color: #7f8c8d; }
</style>
</head>
<body>
<header><h1>{{TITLE}}</h1><span>{{DESCRIPTION}}</span><span>lab: <span class="state" id="lab-state">…</span></span><span id="clock"></span></header>
<main>
  <div>
    <section id="topology"><h2>Topology</h2>{{SVG}}</section>
  </div>
  <div>
    <section><h2>Units</h2>
      <table id="units"><thead><tr><th>unit</th><th>HA role</th><th>tunnels</th><th>pps</th></tr></thead><tbody></tbody></table>
    </section>
    <section><h2>DC router: next hops to lb1</h2>
      <table id="hops"><thead><tr><th>next hop</th><th>units</th><th>state</th></tr></thead><tbody></tbody></table>
    </section>
    <section id="drills"><h2>Drills</h2><div id="drill-buttons"></div><div id="drill-status"></div></section>
    <section><h2>Events</h2><ul id="events"></ul></section>
  </div>
</main>
<script type="application/json" id="init">{{INIT}}</script>
<script>
"use strict";
const init = JSON.parse(document.getElementById("init").textContent);
const colours = { primary: "#bfe5c4", secondary: "#c7dbf5", hello: "#f5e0b5", silent: "#dcdee1" };
const unitNodes = {};
document.querySelectorAll("#topology g.node").forEach(g => {
  const t = g.querySelector("title");
  if (t && t.textContent.startsWith("unit:")) unitNodes[t.textContent.slice(5)] = g;
});
function el(tag, cls, text) { const e = document.createElement(tag); if (cls) e.className = cls; if (text !== undefined) e.textContent = text; return e; }
function tunnelsText(u) {
  if (!u.tunnels) return "?";
  if (u.tunnels.length === 0) return "none";
  return u.tunnels.map(t => t.name + " " + t.role).join(", ");
}
function ppsText(u) { return u.pps === null || u.pps === undefined ? "–" : Math.round(u.pps).toString(); }
function applySnapshot(s) {
  document.getElementById("lab-state").textContent = s.lab + (s.drill ? " (" + s.drill + ")" : "");
  document.getElementById("clock").textContent = s.at.substring(11, 19) + " UTC";
  const body = document.querySelector("#units tbody");
  body.replaceChildren();
  for (const u of s.units) {
    const tr = el("tr");
    tr.id = "unit-" + u.unit;
    tr.appendChild(el("td", null, u.unit));
    const role = el("td"); role.appendChild(el("span", "ha ha-" + u.ha, u.ha)); tr.appendChild(role);
    const tunnels = el("td", u.tunnels && u.tunnels.some(t => t.role === "sync-primary") ? "owner" : null, tunnelsText(u));
    tr.appendChild(tunnels);
    tr.appendChild(el("td", "num", ppsText(u)));
    body.appendChild(tr);
    const g = unitNodes[u.unit];
    if (g) {
      const shape = g.querySelector("polygon, path, ellipse");
      if (shape) shape.setAttribute("fill", colours[u.ha] || "#ffffff");
      const texts = g.querySelectorAll("text");
      if (texts.length >= 2) {
        const owned = (u.tunnels || []).map(t => t.name + " " + t.role).join(", ");
        texts[texts.length - 2].textContent = u.ha + (owned ? " · " + owned : "");
        texts[texts.length - 1].textContent = ppsText(u) + " pps";
      }
    }
  }
  const hops = document.querySelector("#hops tbody");
  hops.replaceChildren();
  for (const h of s.nextHops) {
    const tr = el("tr");
    tr.appendChild(el("td", null, h.address));
    tr.appendChild(el("td", null, h.units.join("+")));
    tr.appendChild(el("td", h.alive ? "alive" : "dead", h.alive ? "alive" : "dead"));
    hops.appendChild(tr);
  }
  document.querySelectorAll("#drill-buttons button").forEach(b => b.disabled = s.lab !== "up");
}
let lastSeq = 0;
function addEvent(e) {
  if (e.seq <= lastSeq) return;
  lastSeq = e.seq;
  const li = el("li");
  li.appendChild(el("span", "at", e.at.substring(11, 23)));
  li.appendChild(el("span", "kind k-" + e.kind, e.kind));
  li.appendChild(el("span", null, e.text));
  const list = document.getElementById("events");
  list.insertBefore(li, list.firstChild);
  while (list.childElementCount > 400) list.removeChild(list.lastChild);
}
for (const d of init.drills) {
  const b = el("button", null, d.name);
  b.title = d.title;
  b.onclick = async () => {
    const status = document.getElementById("drill-status");
    status.textContent = "starting " + d.name + " …";
    const headers = {}; headers[init.drillHeader] = "drill";
    try {
      const r = await fetch("drills/" + encodeURIComponent(d.name), { method: "POST", headers: headers });
      status.textContent = d.name + ": " + (await r.text());
    } catch (err) { status.textContent = d.name + ": " + err; }
  };
  document.getElementById("drill-buttons").appendChild(b);
}
init.events.forEach(addEvent);
if (init.snapshot) applySnapshot(init.snapshot);
const stream = new EventSource("events?after=" + lastSeq);
stream.addEventListener("snapshot", m => applySnapshot(JSON.parse(m.data)));
stream.addEventListener("event", m => addEvent(JSON.parse(m.data)));
</script>
</body>
</html>
""";
}
