// exfix graph --format html: draws the compile-connected chains and the cycles holding a
// compile edge, lists files by fan-out, and shows a picked file's trace and recompile set.
// Plain DOM and SVG, no library; the data is the JSON element "exfix-data".
"use strict";
(function () {
  const D = JSON.parse(document.getElementById("exfix-data").textContent);
  const LABELS = ["compile", "export", "runtime"];
  const SVG = "http://www.w3.org/2000/svg";
  const N = D.files.length;
  const out = Array.from({ length: N }, () => []);
  for (const [a, b, l] of D.edges) out[a].push([b, l]);

  function el(tag, attrs, text) {
    const node = tag.startsWith("svg:") ? document.createElementNS(SVG, tag.slice(4)) : document.createElement(tag);
    for (const k in attrs || {}) node.setAttribute(k, attrs[k]);
    if (text !== undefined) node.textContent = text;
    return node;
  }

  // ------------------------------------------------------------ what is drawn
  // strongly connected components (Tarjan, iterative) over every edge
  function sccs() {
    const index = new Array(N).fill(-1), low = new Array(N).fill(0), onStack = new Array(N).fill(false);
    const stack = [], comps = [];
    let counter = 0;
    for (let s = 0; s < N; s++) {
      if (index[s] >= 0) continue;
      const work = [[s, 0]];
      index[s] = low[s] = counter++; stack.push(s); onStack[s] = true;
      while (work.length) {
        const top = work[work.length - 1], v = top[0];
        if (top[1] < out[v].length) {
          const w = out[v][top[1]++][0];
          if (index[w] < 0) {
            index[w] = low[w] = counter++; stack.push(w); onStack[w] = true; work.push([w, 0]);
          } else if (onStack[w]) low[v] = Math.min(low[v], index[w]);
        } else {
          work.pop();
          if (work.length) { const u = work[work.length - 1][0]; low[u] = Math.min(low[u], low[v]); }
          if (low[v] === index[v]) {
            const comp = [];
            let w;
            do { w = stack.pop(); onStack[w] = false; comp.push(w); } while (w !== v);
            comps.push(comp);
          }
        }
      }
    }
    return comps;
  }

  const compOf = new Array(N).fill(-1);
  const cycles = [];
  for (const comp of sccs()) {
    if (comp.length < 2) continue;
    const members = new Set(comp);
    const compile = comp.some(v => out[v].some(([w, l]) => l === 0 && members.has(w)));
    if (!compile) continue;
    for (const v of comp) compOf[v] = cycles.length;
    cycles.push(comp);
  }
  // compile-connected (as mix's --label compile-connected): a compile edge to a file that
  // itself depends on others; and every edge inside a cycle holding a compile edge
  const drawn = [];
  for (let a = 0; a < N; a++) {
    for (const [b, l] of out[a]) {
      const connected = l === 0 && out[b].length > 0;
      const inCycle = compOf[a] >= 0 && compOf[a] === compOf[b];
      if (connected || inCycle) drawn.push({ a, b, l, inCycle });
    }
  }

  // ------------------------------------------------------------ layout
  // per connected part: back edges found by DFS are set aside, then each file's column is
  // its longest path to a file with no drawn dependency (dependencies to the right), rows
  // ordered by the mean row of the neighbours, a few sweeps each way
  const CHAR = 7.3, PAD = 10, ROW = 34, BOX = 24, GAP = 70;
  function layout() {
    const nodes = [...new Set(drawn.flatMap(e => [e.a, e.b]))].sort((x, y) => D.files[x] < D.files[y] ? -1 : 1);
    const succ = new Map(nodes.map(v => [v, []])), pred = new Map(nodes.map(v => [v, []]));
    for (const e of drawn) { succ.get(e.a).push(e); pred.get(e.b).push(e); }
    const part = new Map();
    const parts = [];
    for (const v of nodes) {
      if (part.has(v)) continue;
      const members = [v];
      part.set(v, parts.length);
      for (let i = 0; i < members.length; i++) {
        const u = members[i];
        for (const e of succ.get(u).concat(pred.get(u))) {
          const w = e.a === u ? e.b : e.a;
          if (!part.has(w)) { part.set(w, parts.length); members.push(w); }
        }
      }
      parts.push(members);
    }
    const state = new Map(), back = new Set();
    for (const v of nodes) {
      if (state.has(v)) continue;
      const work = [[v, 0]];
      state.set(v, 1);
      while (work.length) {
        const top = work[work.length - 1], es = succ.get(top[0]);
        if (top[1] < es.length) {
          const e = es[top[1]++];
          const s = state.get(e.b);
          if (s === 1) back.add(e);
          else if (s === undefined) { state.set(e.b, 1); work.push([e.b, 0]); }
        } else { state.set(top[0], 2); work.pop(); }
      }
    }
    const depth = new Map();
    function depthOf(v) {  // longest path over forward edges, iterative
      const work = [v];
      while (work.length) {
        const u = work[work.length - 1];
        if (depth.has(u)) { work.pop(); continue; }
        const next = succ.get(u).filter(e => !back.has(e)).map(e => e.b);
        const missing = next.filter(w => !depth.has(w));
        if (missing.length) { work.push(...missing); continue; }
        depth.set(u, next.length ? 1 + Math.max(...next.map(w => depth.get(w))) : 0);
        work.pop();
      }
      return depth.get(v);
    }
    const place = new Map();
    let top = 0, width = 0;
    parts.sort((p, q) => q.length - p.length || Math.max(...q.map(v => D.fanout[v])) - Math.max(...p.map(v => D.fanout[v])));
    for (const members of parts) {
      const levels = Math.max(...members.map(depthOf)) + 1;
      const cols = Array.from({ length: levels }, () => []);
      for (const v of members) cols[levels - 1 - depth.get(v)].push(v);
      const row = new Map();
      cols.forEach(c => c.forEach((v, i) => row.set(v, i)));
      for (let sweep = 0; sweep < 6; sweep++) {
        const order = sweep % 2 ? cols.slice().reverse() : cols;
        for (const c of order) {
          const mean = v => {
            const ns = succ.get(v).map(e => e.b).concat(pred.get(v).map(e => e.a));
            return ns.length ? ns.reduce((s, w) => s + row.get(w), 0) / ns.length : row.get(v);
          };
          const keys = new Map(c.map(v => [v, mean(v)]));
          c.sort((x, y) => keys.get(x) - keys.get(y) || x - y);
          c.forEach((v, i) => row.set(v, i));
        }
      }
      let x = PAD;
      for (const c of cols) {
        const w = Math.max(...c.map(v => D.files[v].length)) * CHAR + 2 * PAD;
        c.forEach((v, i) => place.set(v, { x, y: top + i * ROW, w }));
        x += w + GAP;
      }
      width = Math.max(width, x);
      top += Math.max(...cols.map(c => c.length)) * ROW + ROW;
    }
    return { nodes, place, back, width, height: top };
  }

  // ------------------------------------------------------------ drawing
  const nodeOf = new Map();
  function draw() {
    const host = document.getElementById("drawing");
    if (!drawn.length) {
      host.appendChild(el("p", { class: "empty" },
        "No compile-connected chain and no cycle with a compile edge: a change recompiles only the files that use it at compile time."));
      return;
    }
    const { nodes, place, back, width, height } = layout();
    const svg = el("svg:svg", { width: width + PAD, height: height + PAD, id: "graph" });
    const defs = el("svg:defs");
    LABELS.forEach((name, l) => {
      const m = el("svg:marker", { id: "arrow" + l, viewBox: "0 0 10 10", refX: "10", refY: "5",
        markerUnits: "userSpaceOnUse", markerWidth: "9", markerHeight: "9", orient: "auto-start-reverse" });
      m.appendChild(el("svg:path", { d: "M0,0 L10,5 L0,10 z", style: `fill:var(--${name})` }));
      defs.appendChild(m);
    });
    svg.appendChild(defs);
    for (const e of drawn) {
      const p = place.get(e.a), q = place.get(e.b);
      let d;
      if (back.has(e) || q.x <= p.x) {  // against the flow: a loop under both boxes
        const y1 = p.y + BOX, y2 = q.y + BOX, dip = Math.max(y1, y2) + ROW * 0.8;
        d = `M${p.x + p.w / 2},${y1} C${p.x + p.w / 2},${dip} ${q.x + q.w / 2},${dip} ${q.x + q.w / 2},${y2}`;
      } else {
        const x1 = p.x + p.w, y1 = p.y + BOX / 2, x2 = q.x, y2 = q.y + BOX / 2, mid = (x1 + x2) / 2;
        d = `M${x1},${y1} C${mid},${y1} ${mid},${y2} ${x2},${y2}`;
      }
      const path = el("svg:path", { d, class: `edge l${e.l}${e.inCycle ? " incycle" : ""}`,
        "marker-end": `url(#arrow${e.l})`, "data-from": D.files[e.a], "data-to": D.files[e.b] });
      path.appendChild(el("svg:title", {}, `${D.files[e.a]} -> ${D.files[e.b]} (${LABELS[e.l]})`));
      svg.appendChild(path);
    }
    for (const v of nodes) {
      const { x, y, w } = place.get(v);
      const g = el("svg:g", { class: "node" + (compOf[v] >= 0 ? " cycle" : ""), "data-file": D.files[v] });
      g.appendChild(el("svg:rect", { x, y, width: w, height: BOX }));
      g.appendChild(el("svg:text", { x: x + PAD, y: y + 16 }, D.files[v]));
      g.appendChild(el("svg:title", {}, `${D.files[v]}: a change recompiles ${D.fanout[v]} other file(s)`));
      g.addEventListener("click", () => pick(v));
      svg.appendChild(g);
      nodeOf.set(v, g);
    }
    host.appendChild(svg);
  }

  // ------------------------------------------------------------ recompile set
  // recompile.recompiles with unchanged exports: the edited file and every file that
  // reaches it through compile or run-time references are stale; the edited file and the
  // files with a compile reference to a stale file recompile (only files defining modules)
  function recompiles(s) {
    const pending = v => D.modules[v] || v === s;
    const stale = new Set([s]), queue = [s];
    while (queue.length) {
      const g = queue.shift();
      for (const f of D.dependents[g]) if (!stale.has(f) && pending(f)) { stale.add(f); queue.push(f); }
    }
    const hit = new Set();
    for (const g of stale) for (const f of D.compileDependents[g]) if (pending(f) && f !== s) hit.add(f);
    return [...hit].sort((x, y) => D.files[x] < D.files[y] ? -1 : 1);
  }

  // ------------------------------------------------------------ list and details
  const rowOf = new Map();
  function list() {
    const host = document.getElementById("files");
    const order = D.tracked.slice().sort((a, b) => D.fanout[b] - D.fanout[a] || (D.files[a] < D.files[b] ? -1 : 1));
    const most = Math.max(1, ...order.map(v => D.fanout[v]));
    for (const v of order) {
      const li = el("li", { "data-file": D.files[v], title: D.files[v] });
      const share = (100 * D.fanout[v] / most).toFixed(1);
      li.appendChild(el("span", { class: "n" }, String(D.fanout[v])));
      li.appendChild(el("span", { class: "path", style: `background:linear-gradient(to right,rgba(198,40,40,.16) ${share}%,transparent ${share}%)` },
        "\u200e" + D.files[v]));
      li.addEventListener("click", () => pick(v));
      host.appendChild(li);
      rowOf.set(v, li);
    }
    document.getElementById("filter").addEventListener("input", ev => {
      const q = ev.target.value.toLowerCase();
      for (const [v, li] of rowOf) li.hidden = q !== "" && !D.files[v].toLowerCase().includes(q);
    });
  }

  function pick(v) {
    const hit = recompiles(v);
    const hits = new Set(hit);
    for (const [u, g] of nodeOf) g.setAttribute("class", "node" + (compOf[u] >= 0 ? " cycle" : "") + (u === v ? " picked" : hits.has(u) ? " hit" : ""));
    for (const [u, li] of rowOf) li.className = u === v ? "picked" : hits.has(u) ? "hit" : "";
    const host = document.getElementById("details");
    host.replaceChildren();
    host.appendChild(el("h2", { id: "picked" }, D.files[v]));
    if (compOf[v] >= 0) host.appendChild(el("p", {}, `In a cycle of ${cycles[compOf[v]].length} files holding a compile edge.`));
    host.appendChild(el("h2", {}, `A change to it recompiles ${hit.length} other file${hit.length === 1 ? "" : "s"}`));
    const ul = el("ul", { class: "set", id: "recompile-set" });
    for (const f of hit) {
      const li = el("li", {}, D.files[f]);
      li.addEventListener("click", () => pick(f));
      ul.appendChild(li);
    }
    host.appendChild(ul);
    host.appendChild(el("p", { class: "muted" }, "(its public functions, macros and struct unchanged; exfix recompiles FILE --exports-changed for the rest)"));
    const trace = D.trace[v];
    host.appendChild(el("h2", {}, `Its references to the project (mix xref trace): ${trace.length}`));
    host.appendChild(trace.length ? el("pre", { class: "trace", id: "trace" }, trace.join("\n"))
      : el("p", { class: "muted", id: "trace" }, ""));
    const node = nodeOf.get(v);
    if (node) node.scrollIntoView({ block: "nearest", inline: "nearest" });
  }

  // ------------------------------------------------------------ header
  document.getElementById("title").textContent = D.title;
  const byLabel = [0, 0, 0];
  for (const e of D.edges) byLabel[e[2]]++;
  const tracked = D.tracked.length;
  const mean = tracked ? D.tracked.reduce((s, v) => s + D.fanout[v], 0) / tracked : 0;
  const chains = drawn.filter(e => !e.inCycle).length;
  document.getElementById("summary").textContent =
    `${tracked} files, ${byLabel[0]} compile / ${byLabel[1]} export / ${byLabel[2]} runtime edges ` +
    `(Elixir ${D.elixir}); ${drawn.filter(e => e.l === 0 && out[e.b].length > 0).length} compile-connected edges, ` +
    `${cycles.length} cycle${cycles.length === 1 ? "" : "s"} with a compile edge; ` +
    `a change recompiles ${mean.toFixed(2)} other files on average`;
  document.body.dataset.cycles = String(cycles.length);
  document.body.dataset.chains = String(chains);
  draw();
  list();
  document.body.dataset.ready = "1";
})();
