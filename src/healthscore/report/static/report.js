/* healthscore report: the sortable, filterable risk list and sortable tables.
   Plain JavaScript, no framework, no network. Data from the page is only ever put in
   the DOM as text (textContent), never as HTML. */
(function () {
  "use strict";

  var LIMIT = 100; // rows drawn before "Show all"
  var BAND_RANK = { red: 0, yellow: 1, green: 2 };
  var BAND_TEXT = { red: "Red", yellow: "Yellow", green: "Green" };

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function money(v, symbol) {
    if (v === null || v === undefined) return "n/a";
    return symbol + Math.round(v).toLocaleString("en-US");
  }

  function signed(v) {
    if (v === null || v === undefined) return "new";
    var r = Math.round(v);
    if (r === 0) return "0";
    return (r > 0 ? "+" : "\u2212") + Math.abs(r);
  }

  function inDays(n) {  /* as healthscore.wording.in_days words it */
    if (n === 0) return "today";
    if (n === 1) return "tomorrow";
    return "in " + n.toLocaleString("en-US") + " days";
  }

  function compare(a, b, key) {
    var x = a[key], y = b[key];
    if (key === "band") { x = BAND_RANK[x]; y = BAND_RANK[y]; }
    var xMissing = x === null || x === undefined || x === "";
    var yMissing = y === null || y === undefined || y === "";
    if (xMissing || yMissing) return xMissing === yMissing ? 0 : (xMissing ? 1 : -1);
    if (typeof x === "number" && typeof y === "number") return x - y;
    return String(x).localeCompare(String(y), undefined, { numeric: true, sensitivity: "base" });
  }

  function setSortState(table, th, dir) {
    var heads = table.querySelectorAll("th[data-key]");
    for (var i = 0; i < heads.length; i++) heads[i].removeAttribute("aria-sort");
    if (th) th.setAttribute("aria-sort", dir > 0 ? "ascending" : "descending");
  }

  /* ------------------------------------------------------------ risk list */
  function riskList() {
    var dataNode = document.getElementById("risk-data");
    var table = document.getElementById("risk-table");
    if (!dataNode || !table) return;
    var currency = table.getAttribute("data-currency") || "$";  // report.currency
    var table_ = JSON.parse(dataNode.textContent);  // {columns: [keys], data: [[values], ...]}
    var rows = table_.data.map(function (values) {
      var r = {};
      table_.columns.forEach(function (key, i) { r[key] = values[i]; });
      return r;
    });
    var body = table.querySelector("tbody");
    var state = { key: "score", dir: 1, all: false };
    var fOwner = document.getElementById("f-owner");
    var fSegment = document.getElementById("f-segment");
    var fBand = document.getElementById("f-band");
    var fSearch = document.getElementById("f-search");
    var count = document.getElementById("risk-count");
    var more = document.getElementById("risk-more");

    function matches(r) {
      if (fOwner.value && r.owner !== fOwner.value) return false;
      if (fSegment.value && r.segment !== fSegment.value) return false;
      if (fBand.value && r.band !== fBand.value) return false;
      var q = fSearch.value.trim().toLowerCase();
      if (q) {
        var hay = (r.name + " " + r.id + " " + r.owner + " " + r.segment + " " + r.driver).toLowerCase();
        if (hay.indexOf(q) === -1) return false;
      }
      return true;
    }

    function row(r) {
      var tr = el("tr");
      tr.setAttribute("data-band", r.band);
      tr.setAttribute("data-id", r.id);
      var name = el("td", "name");
      if (r.href) { var a = el("a", null, r.name); a.href = r.href; name.appendChild(a); }
      else name.textContent = r.name;
      tr.appendChild(name);
      tr.appendChild(el("td", "nowrap", r.owner));
      tr.appendChild(el("td", "nowrap", r.segment));
      var score = el("td", "num score", r.score === null ? "n/a" : Math.round(r.score));
      tr.appendChild(score);
      var band = el("td");
      band.appendChild(el("span", "band band-" + r.band, BAND_TEXT[r.band] || r.band));
      tr.appendChild(band);
      tr.appendChild(el("td", "num", r.risk === null ? "n/a" : Math.round(100 * r.risk) + "%"));
      tr.appendChild(el("td", "num", money(r.arr, currency)));
      tr.appendChild(el("td", "num", money(r.arr_at_risk, currency)));
      var renewal = el("td", "nowrap", r.renewal === null ? "n/a" : r.renewal);
      if (r.days !== null) renewal.appendChild(el("div", "driver-meta", inDays(r.days)));
      tr.appendChild(renewal);
      tr.appendChild(el("td", "num", r.renewal_risk === null ? "n/a" : Math.round(100 * r.renewal_risk) + "%"));
      var ch = el("td", "num " + (r.change < 0 ? "down" : r.change > 0 ? "up" : ""), signed(r.change));
      tr.appendChild(ch);
      tr.appendChild(el("td", "driver small", r.driver));
      if (r.expansion !== undefined)  // an expansion model exported: its chance, as a share
        tr.appendChild(el("td", "num expansion", r.expansion === null ? "n/a" : Math.round(100 * r.expansion) + "%"));
      return tr;
    }

    function draw() {
      var shown = rows.filter(matches);
      shown.sort(function (a, b) { return state.dir * compare(a, b, state.key) || compare(a, b, "name"); });
      var limit = state.all ? shown.length : Math.min(shown.length, LIMIT);
      var frag = document.createDocumentFragment();
      for (var i = 0; i < limit; i++) frag.appendChild(row(shown[i]));
      body.textContent = "";
      body.appendChild(frag);
      count.textContent = "Showing " + limit.toLocaleString("en-US") + " of " +
        rows.length.toLocaleString("en-US") + " accounts" +
        (shown.length !== rows.length ? " (" + shown.length.toLocaleString("en-US") + " match the filters)" : "");
      more.hidden = limit >= shown.length;
      more.textContent = "Show all " + shown.length.toLocaleString("en-US") + " matching accounts";
    }

    var heads = table.querySelectorAll("th[data-key]");
    Array.prototype.forEach.call(heads, function (th) {
      th.querySelector("button").addEventListener("click", function () {
        var key = th.getAttribute("data-key");
        state.dir = state.key === key ? -state.dir : (th.getAttribute("data-first") === "desc" ? -1 : 1);
        state.key = key;
        setSortState(table, th, state.dir);
        draw();
      });
      if (th.getAttribute("data-key") === state.key) setSortState(table, th, state.dir);
    });
    [fOwner, fSegment, fBand].forEach(function (s) { s.addEventListener("change", draw); });
    fSearch.addEventListener("input", draw);
    more.addEventListener("click", function () { state.all = true; draw(); });
    draw();
  }

  /* ------------------------------------------------- static sortable tables */
  function sortableTables() {
    var tables = document.querySelectorAll("table.sortable");
    Array.prototype.forEach.call(tables, function (table) {
      var body = table.tBodies[0];
      var heads = table.querySelectorAll("th[data-key]");
      Array.prototype.forEach.call(heads, function (th) {
        var index = Array.prototype.indexOf.call(th.parentNode.children, th);
        th.querySelector("button").addEventListener("click", function () {
          var dir = th.getAttribute("aria-sort") === "ascending" ? -1 :
            th.getAttribute("aria-sort") === "descending" ? 1 : (th.getAttribute("data-first") === "desc" ? -1 : 1);
          var items = Array.prototype.slice.call(body.rows).map(function (tr) {
            var cell = tr.cells[index];
            var raw = cell.getAttribute("data-sort");
            var value = raw === null ? cell.textContent.trim() : raw;
            var number = parseFloat(value);
            return { tr: tr, v: raw !== null && !isNaN(number) ? number : value };
          });
          items.sort(function (a, b) { return dir * compare(a, b, "v"); });
          items.forEach(function (item) { body.appendChild(item.tr); });
          setSortState(table, th, dir);
        });
      });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    riskList();
    sortableTables();
  });
})();
