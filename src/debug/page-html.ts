/** The debug page's HTML and stylesheet (its script is in page-script.ts). No external assets. */

export const PAGE_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Tower inspector</title>
<link rel="stylesheet" href="inspector.css">
<link rel="icon" href="data:,">
<script src="inspector.js" defer></script>
</head>
<body>
<header>
  <h1>Tower inspector <span id="process"></span></h1>
  <span id="counts"></span>
  <label><input type="checkbox" id="show-ended" checked> ended actors</label>
  <span id="connection" class="down">connecting…</span>
</header>
<main>
  <nav id="actors" aria-label="actors"><ul id="tree"></ul></nav>
  <section id="detail">
    <h2 id="detail-title">No actor selected</h2>
    <p id="detail-meta"></p>
    <div id="diagram"></div>
    <div id="undrawn"></div>
    <div class="columns">
      <div><h3>Context (allow-listed fields)</h3><table id="context"></table></div>
      <div><h3>Recent events</h3><ol id="events" reversed></ol></div>
    </div>
  </section>
</main>
</body>
</html>
`;

export const PAGE_CSS = `
:root { --fg: #1d2430; --muted: #6b7585; --line: #c9d0da; --active: #0b7a3e; --active-bg: #d9f5e4; --ended: #9aa3b0; --accent: #2458b3; }
* { box-sizing: border-box; }
body { margin: 0; font: 13px/1.4 system-ui, sans-serif; color: var(--fg); background: #f6f7f9; }
header { display: flex; gap: 16px; align-items: baseline; padding: 8px 14px; background: #fff; border-bottom: 1px solid var(--line); }
h1 { font-size: 16px; margin: 0; }
h2 { font-size: 15px; margin: 0 0 4px; font-family: monospace; }
h3 { font-size: 13px; margin: 12px 0 4px; color: var(--muted); }
#process { color: var(--muted); font-weight: normal; }
#counts { color: var(--muted); }
#connection { margin-left: auto; font-weight: bold; }
#connection.up { color: var(--active); }
#connection.down { color: #b3261e; }
main { display: flex; height: calc(100vh - 42px); }
nav { width: 340px; min-width: 260px; overflow: auto; border-right: 1px solid var(--line); background: #fff; padding: 6px 0; }
nav ul { list-style: none; margin: 0; padding-left: 14px; }
nav > ul { padding-left: 6px; }
.actor { display: flex; gap: 6px; padding: 2px 6px; cursor: pointer; border-radius: 4px; white-space: nowrap; font-family: monospace; font-size: 12px; }
.actor:hover { background: #eef2f8; }
.actor.selected { background: #dde7f7; }
.actor .state { color: var(--active); }
.actor .machine { color: var(--muted); }
.actor.ended, .actor.ended .state { color: var(--ended); }
.actor.ended .status { font-style: italic; }
#detail { flex: 1; overflow: auto; padding: 10px 16px; }
#detail-meta { color: var(--muted); margin: 0 0 8px; }
#diagram { overflow: auto; }
#diagram svg { background: #fff; border: 1px solid var(--line); border-radius: 6px; width: 100%; height: auto; }
svg .state rect { fill: #fff; stroke: #7d8796; stroke-width: 1; }
svg .state.container > rect { fill: #f8f9fb; }
svg .state.final rect { stroke-width: 3; stroke-opacity: .6; }
svg .state.active > rect { fill: var(--active-bg); stroke: var(--active); stroke-width: 2.5; }
svg .state text { font: 12px monospace; fill: var(--fg); }
svg .state.active > text { font-weight: bold; fill: var(--active); }
svg .edge path { fill: none; stroke: #8a94a3; stroke-width: 1.2; }
svg .edge text { font: 10px monospace; fill: #4a5361; paint-order: stroke; stroke: #fff; stroke-width: 3px; }
svg .edge.last path { stroke: var(--accent); stroke-width: 2.2; }
svg .edge.last text { fill: var(--accent); }
svg .initial circle { fill: #1d2430; }
svg .initial path { stroke: #1d2430; stroke-width: 1.2; }
svg marker path { fill: #8a94a3; }
#undrawn { color: var(--muted); font-family: monospace; font-size: 11px; margin-top: 4px; }
.columns { display: flex; gap: 24px; flex-wrap: wrap; }
.columns > div { flex: 1; min-width: 320px; }
table { border-collapse: collapse; font-family: monospace; font-size: 12px; }
td { border-bottom: 1px solid #e3e7ec; padding: 2px 10px 2px 0; vertical-align: top; }
td:first-child { color: var(--muted); }
#events { font-family: monospace; font-size: 12px; padding-left: 36px; margin: 0; }
#events li { padding: 1px 0; }
#events .to { color: var(--active); }
#events .from, #events .fields, #events .at { color: var(--muted); }
`;
