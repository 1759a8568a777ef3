/**
 * The debug page's script: plain browser JavaScript, served as /inspector.js. It listens
 * to /events (server-sent events: one `snapshot`, then `update`s), keeps the actors, and
 * draws the actor tree and the selected actor's machine from the layout the server made
 * (machine-layout.ts). Everything is written with textContent: no HTML from the data.
 */
export const PAGE_SCRIPT = String.raw`
'use strict';
(function () {
  var SVG = 'http://www.w3.org/2000/svg';
  var MAX_EVENTS = 20;
  var model = { machines: {}, actors: new Map(), counts: null, selected: null, process: null };
  var svgCache = new Map();
  var pending = false;

  function $(id) { return document.getElementById(id); }
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function svg(tag, attrs, cls) {
    var e = document.createElementNS(SVG, tag);
    for (var k in attrs) e.setAttribute(k, String(attrs[k]));
    if (cls) e.setAttribute('class', cls);
    return e;
  }

  function merge(update) {
    var old = model.actors.get(update.key);
    if (!old) { update.events = update.events.slice(-MAX_EVENTS); model.actors.set(update.key, update); return; }
    var last = old.events.length ? old.events[old.events.length - 1].seq : 0;
    var events = old.events.concat(update.events.filter(function (e) { return e.seq > last; }));
    // A later snapshot of the last event may carry its resulting state.
    update.events.forEach(function (e) {
      if (e.seq <= last) { var mine = events.find(function (m) { return m.seq === e.seq; }); if (mine && e.to) mine.to = e.to; }
    });
    update.events = events.slice(-MAX_EVENTS);
    model.actors.set(update.key, update);
  }

  function schedule() {
    if (pending) return;
    pending = true;
    requestAnimationFrame(function () { pending = false; render(); });
  }

  function connect() {
    var source = new EventSource('events');
    source.addEventListener('open', function () { $('connection').textContent = 'live'; $('connection').className = 'up'; });
    source.addEventListener('error', function () { $('connection').textContent = 'reconnecting…'; $('connection').className = 'down'; });
    source.addEventListener('snapshot', function (message) {
      var data = JSON.parse(message.data);
      model.machines = data.machines;
      model.actors = new Map();
      model.process = data.process;
      data.actors.forEach(function (a) { model.actors.set(a.key, a); });
      model.counts = data.counts;
      svgCache.clear();
      schedule();
    });
    source.addEventListener('update', function (message) {
      var data = JSON.parse(message.data);
      for (var id in data.machines) model.machines[id] = data.machines[id];
      data.actors.forEach(merge);
      data.removed.forEach(function (key) { model.actors.delete(key); });
      model.counts = data.counts;
      schedule();
    });
  }

  function showEnded() { return $('show-ended').checked; }

  function render() {
    if (model.process) $('process').textContent = model.process.name + ' (pid ' + model.process.pid + ')';
    var c = model.counts;
    if (c) $('counts').textContent = c.live + ' live, ' + c.ended + ' ended kept' + (c.untracked ? ', ' + c.untracked + ' not tracked' : '') + ', ' + c.events + ' events';
    if (model.selected === null || !model.actors.has(model.selected)) model.selected = firstMachineActor();
    renderTree();
    renderDetail();
  }

  function firstMachineActor() {
    for (var a of model.actors.values()) if (!a.parent && a.machine && a.status === 'active') return a.key;
    for (var b of model.actors.values()) if (b.machine) return b.key;
    return null;
  }

  function renderTree() {
    var tree = $('tree');
    tree.replaceChildren();
    var roots = [];
    model.actors.forEach(function (a) { if (!a.parent || !model.actors.has(a.parent)) roots.push(a); });
    roots.forEach(function (a) { var li = item(a); if (li) tree.appendChild(li); });
  }

  function item(actor) {
    if (actor.status !== 'active' && !showEnded()) return null;
    var li = el('li');
    var row = el('div', 'actor' + (actor.status === 'active' ? '' : ' ended') + (actor.key === model.selected ? ' selected' : ''));
    row.dataset.key = actor.key;
    row.dataset.actorId = actor.id;
    row.dataset.machine = actor.machine || '';
    row.dataset.state = actor.state;
    row.dataset.status = actor.status;
    row.appendChild(el('span', 'id', actor.id));
    if (actor.machine) row.appendChild(el('span', 'machine', actor.machine));
    if (actor.state) row.appendChild(el('span', 'state', actor.state));
    if (actor.status !== 'active') row.appendChild(el('span', 'status', actor.status));
    row.addEventListener('click', function () { model.selected = actor.key; render(); });
    li.appendChild(row);
    var kids = actor.children.map(function (k) { return model.actors.get(k); }).filter(Boolean);
    if (kids.length) {
      var ul = el('ul');
      kids.forEach(function (k) { var sub = item(k); if (sub) ul.appendChild(sub); });
      li.appendChild(ul);
    }
    return li;
  }

  function renderDetail() {
    var actor = model.selected === null ? undefined : model.actors.get(model.selected);
    var diagram = $('diagram');
    if (!actor) { $('detail-title').textContent = 'No actor selected'; diagram.replaceChildren(); return; }
    $('detail-title').textContent = actor.id + (actor.machine ? '  ·  ' + actor.machine : '');
    var meta = 'status ' + actor.status + (actor.state ? ', state ' + actor.state : '') + ', started ' + time(actor.startedAt) +
      (actor.endedAt ? ', ended ' + time(actor.endedAt) : '') + (actor.parent && model.actors.get(actor.parent) ? ', parent ' + model.actors.get(actor.parent).id : '') +
      ', ' + actor.children.length + ' children';
    $('detail-meta').textContent = meta;
    var layout = actor.machine ? model.machines[actor.machine] : undefined;
    if (layout) {
      var picture = svgCache.get(actor.machine);
      if (!picture) { picture = drawMachine(layout); svgCache.set(actor.machine, picture); }
      if (diagram.firstChild !== picture) diagram.replaceChildren(picture);
      highlight(picture, actor);
      $('undrawn').textContent = layout.undrawn.length ? 'Also (not drawn): ' + layout.undrawn.map(function (u) { return u.state + ' —' + u.label + '→ ' + u.target; }).join('; ') : '';
    } else {
      diagram.replaceChildren(el('p', '', actor.machine ? 'machine ' + actor.machine + ' not drawn (too many machines)' : 'not a state machine (callback or promise actor)'));
      $('undrawn').textContent = '';
    }
    var table = $('context');
    table.replaceChildren();
    Object.keys(actor.context).forEach(function (k) {
      var tr = el('tr');
      tr.appendChild(el('td', '', k));
      tr.appendChild(el('td', '', JSON.stringify(actor.context[k])));
      table.appendChild(tr);
    });
    var list = $('events');
    list.replaceChildren();
    actor.events.slice().reverse().forEach(function (e) {
      var li = el('li');
      li.dataset.type = e.type;
      li.appendChild(el('span', 'at', time(e.at) + ' '));
      li.appendChild(el('span', 'type', e.type));
      if (e.from) li.appendChild(el('span', 'from', ' from ' + e.from));
      if (e.fields) li.appendChild(el('span', 'fields', ' ' + JSON.stringify(e.fields)));
      if (e.to) li.appendChild(el('span', 'to', ' → ' + e.to));
      list.appendChild(li);
    });
  }

  function drawMachine(layout) {
    var root = svg('svg', { viewBox: '0 0 ' + layout.width + ' ' + layout.height, role: 'img' });
    // Fit the pane, but never shrink text below ~70 % (then the pane scrolls).
    root.style.minWidth = Math.round(layout.width * 0.7) + 'px';
    root.style.maxWidth = Math.round(layout.width * 1.25) + 'px';
    root.dataset.machine = layout.id;
    var defs = svg('defs', {});
    var marker = svg('marker', { id: 'arrow', viewBox: '0 0 10 10', refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: 'auto-start-reverse' });
    marker.appendChild(svg('path', { d: 'M0,0 L10,5 L0,10 z' }));
    defs.appendChild(marker);
    root.appendChild(defs);
    var title = svg('text', { x: 16, y: 18 }, 'title');
    title.textContent = layout.id;
    root.appendChild(title);
    layout.states.forEach(function (s) {
      var g = svg('g', {}, 'state ' + s.kind + (s.container ? ' container' : ''));
      g.dataset.path = s.path;
      g.appendChild(svg('rect', { x: s.x, y: s.y, width: s.w, height: s.h, rx: s.container ? 8 : 14 }));
      var t = svg('text', s.container ? { x: s.x + 10, y: s.y + 15 } : { x: s.x + s.w / 2, y: s.y + s.h / 2 + 4, 'text-anchor': 'middle' });
      t.textContent = s.label;
      g.appendChild(t);
      root.appendChild(g);
    });
    layout.initials.forEach(function (i) {
      var g = svg('g', {}, 'initial');
      g.appendChild(svg('circle', { cx: i.x, cy: i.y, r: 4 }));
      g.appendChild(svg('path', { d: i.d, 'marker-end': 'url(#arrow)' }));
      root.appendChild(g);
    });
    layout.edges.forEach(function (e) {
      var g = svg('g', {}, 'edge');
      g.dataset.from = e.from;
      g.dataset.to = e.to;
      g.dataset.label = e.label;
      g.appendChild(svg('path', { d: e.d, 'marker-end': 'url(#arrow)' }));
      var t = svg('text', { x: e.lx, y: e.ly, 'text-anchor': 'middle' });
      t.textContent = e.label;
      g.appendChild(t);
      root.appendChild(g);
    });
    return root;
  }

  function highlight(picture, actor) {
    var active = new Set(actor.active); // for an ended actor: the state it ended in
    picture.querySelectorAll('g.state').forEach(function (g) {
      g.classList.toggle('active', active.has(g.dataset.path));
    });
    // The arrow of the latest transition: its event type starts the edge label.
    var last = actor.events.length ? actor.events[actor.events.length - 1] : undefined;
    picture.querySelectorAll('g.edge').forEach(function (g) {
      var hit = !!(last && last.to && g.dataset.label.split(' [')[0] === last.type && last.to.split(', ').some(function (to) { return to === g.dataset.to || to.indexOf(g.dataset.to + '.') === 0; }));
      g.classList.toggle('last', hit);
    });
  }

  function time(ms) {
    var d = new Date(ms);
    return d.toTimeString().slice(0, 8) + '.' + String(d.getMilliseconds()).padStart(3, '0');
  }

  document.addEventListener('DOMContentLoaded', function () {
    $('show-ended').addEventListener('change', render);
    connect();
  });
})();
`;
