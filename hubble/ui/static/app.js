// The service map page: follows /api/flows (Server-Sent Events of the server's UiFlow objects) for
// the chosen namespace, draws workloads, Services and entities as cards and flows as edges coloured
// by verdict, explains a hovered or clicked edge (drop reason, deciding rule) and lists the flows.
'use strict';

const SVG = 'http://www.w3.org/2000/svg';
const MAX_ROWS = 300;
const CARD_W = 200;
const CARD_H = 62;
const COL_GAP = 150;
const ROW_GAP = 34;
const MARGIN = 40;
const COLORS = { FORWARDED: '#1f9d55', DROPPED: '#d93a3a', AUDIT: '#e0900b', ERROR: '#e0900b' };
const OTHER_COLOR = '#7b8794';

const state = { nodes: new Map(), edges: new Map(), flows: [], total: 0, selected: '', source: null, pending: false };

const $ = (id) => document.getElementById(id);
const colorOf = (verdict) => COLORS[verdict] || OTHER_COLOR;

/** An element of `ns` (SVG or HTML) with attributes and optional text. */
function el(tag, attrs = {}, text, ns) {
  const e = ns ? document.createElementNS(ns, tag) : document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  if (text !== undefined) e.textContent = text;
  return e;
}

/** Records a flow's ends as map nodes. */
function addNode(ep, kind) {
  let n = state.nodes.get(ep.id);
  if (!n) {
    n = { id: ep.id, name: ep.workload, namespace: ep.namespace || '', kind, pods: new Set() };
    state.nodes.set(ep.id, n);
  }
  if (ep.pod) n.pods.add(ep.pod);
  return n;
}

function serviceNode(service) {
  const id = `service:${service}`;
  if (!state.nodes.has(id)) {
    const [namespace, name] = service.split('/');
    state.nodes.set(id, { id, name, namespace, kind: 'service', pods: new Set() });
  }
  return id;
}

/** Adds a flow to the edge from `from` to `to` of its verdict. */
function addEdge(from, to, f) {
  const key = `${from}|${to}|${f.verdict}`;
  let e = state.edges.get(key);
  if (!e) {
    e = { key, from, to, verdict: f.verdict, ports: new Set(), count: 0, reasons: new Set(), rules: new Set(), last: 0 };
    state.edges.set(key, e);
  }
  e.count++;
  e.last = f.time;
  if (f.port !== undefined || f.protocol) e.ports.add(f.port !== undefined ? `${f.protocol} ${f.port}` : f.protocol);
  if (f.dropReason) e.reasons.add(f.dropReason);
  if (f.rule) e.rules.add(f.rule);
}

/** Takes in one flow: the table always, the map unless it is a reply. */
function onFlow(f) {
  state.total++;
  state.flows.unshift(f);
  if (state.flows.length > MAX_ROWS) state.flows.length = MAX_ROWS;
  if (f.source.namespace) knownNamespace(f.source.namespace);
  if (f.destination.namespace) knownNamespace(f.destination.namespace);
  if (!f.reply) {
    const kind = (ep) => (ep.id.startsWith('reserved:') ? 'entity' : 'workload');
    const src = addNode(f.source, kind(f.source)).id;
    const dst = addNode(f.destination, kind(f.destination)).id;
    if (f.service) {
      const svc = serviceNode(f.service);
      addEdge(src, svc, f);
      addEdge(svc, dst, f);
    } else {
      addEdge(src, dst, f);
    }
  }
  schedule();
}

function schedule() {
  if (state.pending) return;
  state.pending = true;
  setTimeout(() => {
    state.pending = false;
    render();
  }, 200);
}

/**
 * Columns: the longest path to each node from where flows start. Edges that close a cycle (found by
 * a depth-first walk from the nodes with the fewest incoming edges) do not count.
 */
function ranks() {
  const ids = [...state.nodes.keys()];
  const out = new Map(ids.map((id) => [id, []]));
  const incoming = new Map(ids.map((id) => [id, 0]));
  for (const e of state.edges.values()) {
    if (e.from === e.to || out.get(e.from).includes(e.to)) continue;
    out.get(e.from).push(e.to);
    incoming.set(e.to, incoming.get(e.to) + 1);
  }
  const forward = new Map(ids.map((id) => [id, []]));
  const [onPath, done, postOrder] = [new Set(), new Set(), []];
  const visit = (id) => {
    onPath.add(id);
    for (const t of out.get(id)) {
      if (onPath.has(t)) continue;
      forward.get(id).push(t);
      if (!done.has(t)) visit(t);
    }
    onPath.delete(id);
    done.add(id);
    postOrder.push(id);
  };
  ids.sort((a, b) => incoming.get(a) - incoming.get(b) || a.localeCompare(b));
  for (const id of ids) if (!done.has(id)) visit(id);
  const rank = new Map(ids.map((id) => [id, 0]));
  for (const id of postOrder.reverse()) for (const t of forward.get(id)) rank.set(t, Math.max(rank.get(t), rank.get(id) + 1));
  return rank;
}

function layout() {
  const rank = ranks();
  const columns = [];
  for (const n of state.nodes.values()) (columns[rank.get(n.id)] ||= []).push(n);
  const pos = new Map();
  const tallest = Math.max(0, ...Array.from(columns, (c) => (c ? c.length : 0)));
  columns.forEach((col, i) => {
    if (!col) return;
    col.sort((a, b) => a.id.localeCompare(b.id));
    const offset = ((tallest - col.length) * (CARD_H + ROW_GAP)) / 2;
    col.forEach((n, j) => pos.set(n.id, { x: MARGIN + i * (CARD_W + COL_GAP), y: MARGIN + offset + j * (CARD_H + ROW_GAP) }));
  });
  return { pos, width: MARGIN * 2 + columns.length * (CARD_W + COL_GAP) - COL_GAP, height: MARGIN * 2 + tallest * (CARD_H + ROW_GAP) - ROW_GAP };
}

function renderNode(svg, n, p) {
  const g = el('g', { class: `node-card ${n.kind}`, 'data-id': n.id, 'data-kind': n.kind, transform: `translate(${p.x},${p.y})` }, undefined, SVG);
  g.append(el('rect', { class: 'card', width: CARD_W, height: CARD_H, rx: 8 }, undefined, SVG));
  g.append(el('rect', { class: 'band', width: 5, height: CARD_H, rx: 2 }, undefined, SVG));
  const kind = n.kind === 'service' ? 'Service' : n.kind === 'entity' ? 'entity' : `${n.pods.size} pod${n.pods.size === 1 ? '' : 's'}`;
  g.append(el('text', { class: 'name', x: 16, y: 24 }, n.name, SVG));
  g.append(el('text', { class: 'meta', x: 16, y: 44 }, n.namespace ? `${n.namespace} · ${kind}` : kind, SVG));
  g.append(el('title', {}, n.kind === 'workload' ? `${n.id}\n${[...n.pods].join('\n')}` : n.id, SVG));
  svg.append(g);
}

function edgePath(a, b, offset) {
  if (b.x > a.x) {
    const [x1, y1, x2, y2] = [a.x + CARD_W, a.y + CARD_H / 2 + offset, b.x, b.y + CARD_H / 2 + offset];
    const dx = (x2 - x1) / 2;
    return { d: `M${x1},${y1} C${x1 + dx},${y1} ${x2 - dx},${y2} ${x2 - 6},${y2}`, mid: { x: (x1 + x2) / 2, y: (y1 + y2) / 2 } };
  }
  // Same column or backwards: loop below the cards.
  const [x1, y1, x2, y2] = [a.x + CARD_W / 2 + offset, a.y + CARD_H, b.x + CARD_W / 2 + offset, b.y + CARD_H + 6];
  const low = Math.max(y1, y2) + 60;
  return { d: `M${x1},${y1} C${x1},${low} ${x2},${low} ${x2},${y2}`, mid: { x: (x1 + x2) / 2, y: low - 14 } };
}

function renderEdges(svg, pos) {
  const pairs = new Map();
  for (const e of state.edges.values()) {
    const k = `${e.from}|${e.to}`;
    pairs.set(k, [...(pairs.get(k) || []), e]);
  }
  for (const group of pairs.values()) {
    group.sort((a, b) => a.verdict.localeCompare(b.verdict));
    group.forEach((e, i) => {
      const offset = (i - (group.length - 1) / 2) * 14;
      const { d, mid } = edgePath(pos.get(e.from), pos.get(e.to), offset);
      const color = colorOf(e.verdict);
      const g = el('g', { class: `edge${state.selected === e.key ? ' selected' : ''}`, 'data-from': e.from, 'data-to': e.to, 'data-verdict': e.verdict, 'data-color': color }, undefined, SVG);
      // Drops are dashed as well as red, for readers who cannot tell the colours apart.
      const dash = e.verdict === 'DROPPED' ? { 'stroke-dasharray': '7 4' } : {};
      g.append(el('path', { class: 'line', d, stroke: color, 'marker-end': `url(#arrow-${e.verdict})`, ...dash }, undefined, SVG));
      g.append(el('path', { class: 'hit', d }, undefined, SVG));
      // Labels of parallel edges sit on their own side of the pair.
      const labelY = offset > 0 ? mid.y + 15 : mid.y - 6;
      g.append(el('text', { x: mid.x, y: labelY, 'text-anchor': 'middle', fill: color }, [...e.ports].join(', '), SVG));
      g.addEventListener('mouseenter', () => showEdge(e));
      g.addEventListener('click', () => {
        state.selected = e.key;
        showEdge(e);
        render();
      });
      svg.append(g);
    });
  }
}

function renderMarkers(svg) {
  const defs = el('defs', {}, undefined, SVG);
  for (const verdict of new Set([...state.edges.values()].map((e) => e.verdict))) {
    const m = el('marker', { id: `arrow-${verdict}`, viewBox: '0 0 10 10', refX: 8, refY: 5, markerWidth: 10, markerHeight: 10, markerUnits: 'userSpaceOnUse', orient: 'auto-start-reverse' }, undefined, SVG);
    m.append(el('path', { d: 'M0,0 L10,5 L0,10 z', fill: colorOf(verdict) }, undefined, SVG));
    defs.append(m);
  }
  svg.append(defs);
}

function render() {
  const svg = $('map');
  const { pos, width, height } = layout();
  // The map fills its pane, centred; a larger map scrolls.
  const pane = svg.parentElement;
  const [w, h] = [Math.max(width, pane.clientWidth), Math.max(height + 60, pane.clientHeight - 4)];
  svg.replaceChildren();
  svg.setAttribute('width', w);
  svg.setAttribute('height', h);
  renderMarkers(svg);
  const content = el('g', { transform: `translate(${(w - width) / 2},${Math.max(0, (h - height - 60) / 2)})` }, undefined, SVG);
  renderEdges(content, pos);
  for (const n of state.nodes.values()) renderNode(content, n, pos.get(n.id));
  svg.append(content);
  $('empty').hidden = state.nodes.size > 0;
  renderTable();
}

function endpointCell(ep) {
  const td = el('td');
  if (ep.namespace) td.append(el('span', { class: 'ns-prefix' }, `${ep.namespace}/`));
  td.append(document.createTextNode(ep.pod || ep.workload || ep.ip));
  td.title = `${ep.ip} (identity ${ep.identity})`;
  return td;
}

/** The time of day of `ms` (UTC) to the millisecond. */
const clock = (ms) => new Date(ms).toISOString().slice(11, 23);

function renderTable() {
  const body = $('flows').tBodies[0];
  body.replaceChildren(...state.flows.map((f) => {
    const tr = el('tr', { 'data-verdict': f.verdict });
    tr.append(endpointCell(f.source), endpointCell(f.destination));
    tr.append(el('td', {}, f.port !== undefined ? `${f.protocol} ${f.port}` : f.protocol));
    const v = el('td');
    v.append(el('span', { class: `pill ${COLORS[f.verdict] ? f.verdict : 'other'}` }, f.verdict));
    tr.append(v, el('td', {}, f.dropReason || ''), el('td', {}, f.rule || ''), el('td', {}, f.node), el('td', { title: new Date(f.time).toISOString() }, clock(f.time)));
    tr.addEventListener('click', () => showFlow(f));
    return tr;
  }));
  $('flow-count').textContent = `${state.total} flow${state.total === 1 ? '' : 's'}${state.total > MAX_ROWS ? ` (latest ${MAX_ROWS} shown)` : ''}`;
}

/** Fills the details panel: a title, a rule box, then term/value rows. */
function showDetails(title, verdict, ruleLines, rows) {
  const panel = $('details');
  panel.replaceChildren(el('h2', {}, 'Details'), el('div', { class: 'title' }, title));
  const box = el('div', { class: `rule ${verdict === 'DROPPED' ? 'dropped' : 'forwarded'}`, 'data-verdict': verdict });
  box.append(el('strong', {}, verdict));
  for (const line of ruleLines) box.append(el('div', {}, line));
  panel.append(box);
  const dl = el('dl');
  for (const [k, v] of rows) if (v !== '' && v !== undefined) dl.append(el('dt', {}, k), el('dd', {}, String(v)));
  panel.append(dl);
}

const label = (id) => {
  const n = state.nodes.get(id);
  return n ? (n.namespace ? `${n.namespace}/${n.name}` : n.name) : id;
};

function showEdge(e) {
  const lines = [...[...e.reasons].map((r) => `Drop reason: ${r}`), ...[...e.rules].map((r) => `Rule: ${r}`)];
  if (!lines.length) lines.push(e.verdict === 'DROPPED' ? 'Dropped without a policy verdict' : 'No policy rule involved');
  showDetails(`${label(e.from)} → ${label(e.to)}`, e.verdict, lines, [
    ['Ports', [...e.ports].join(', ')], ['Flows', e.count], ['Last seen', new Date(e.last).toISOString()],
  ]);
}

function showFlow(f) {
  const lines = [...(f.dropReason ? [`Drop reason: ${f.dropReason}`] : []), ...(f.rule ? [`Rule: ${f.rule}`] : [])];
  showDetails(`${f.source.pod || f.source.workload} → ${f.destination.pod || f.destination.workload}`, f.verdict, lines, [
    ['Source', `${f.source.ip} (identity ${f.source.identity})`], ['Destination', `${f.destination.ip} (identity ${f.destination.identity})`],
    ['Service', f.service || ''], ['Port', f.port !== undefined ? `${f.protocol} ${f.port}` : f.protocol], ['Direction', f.direction],
    ['Summary', f.summary], ['Node', f.node], ['Reply', f.reply ? 'yes' : 'no'], ['Time', new Date(f.time).toISOString()],
  ]);
}

function setStatus(cls, text) {
  const s = $('status');
  s.className = `status ${cls}`;
  s.textContent = text;
}

function knownNamespace(ns) {
  const select = $('namespace');
  if ([...select.options].some((o) => o.value === ns)) return;
  const options = [...select.options].slice(1).map((o) => o.value).concat(ns).sort();
  select.replaceChildren(el('option', { value: '' }, 'All namespaces'), ...options.map((v) => el('option', { value: v }, v)));
  select.value = state.namespace || '';
}

function connect(namespace) {
  if (state.source) state.source.close();
  const reset = () => {
    Object.assign(state, { nodes: new Map(), edges: new Map(), flows: [], total: 0, selected: '', namespace });
    render();
  };
  reset();
  setStatus('connecting', 'connecting…');
  const source = new EventSource(`api/flows?namespace=${encodeURIComponent(namespace)}`);
  state.source = source;
  // Every (re)connection starts with the Observer's history again.
  source.addEventListener('open', () => {
    reset();
    setStatus('live', 'live');
  });
  source.addEventListener('flow', (ev) => onFlow(JSON.parse(ev.data)));
  source.addEventListener('lost', (ev) => setStatus('live', `live · ${JSON.parse(ev.data).lost} flows lost`));
  source.addEventListener('failure', (ev) => setStatus('failed', `Observer: ${JSON.parse(ev.data).error}`));
  source.addEventListener('error', () => {
    if (source.readyState !== EventSource.OPEN) setStatus('connecting', 'reconnecting…');
  });
}

async function loadNamespaces() {
  try {
    const r = await fetch('api/namespaces');
    if (r.ok) for (const ns of (await r.json()).namespaces) knownNamespace(ns);
  } catch {
    // The flows' namespaces fill the list as they arrive.
  }
}

const initial = new URLSearchParams(location.search).get('namespace') || '';
state.namespace = initial;
if (initial) knownNamespace(initial);
$('namespace').addEventListener('change', (ev) => {
  const ns = ev.target.value;
  history.replaceState(null, '', ns ? `?namespace=${encodeURIComponent(ns)}` : location.pathname);
  connect(ns);
});
window.addEventListener('resize', schedule);
loadNamespaces();
connect(initial);
