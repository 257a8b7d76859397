/* icpscan report: filter, sort and page the domain table.
 *
 * Inlined at render time; the page's Content-Security-Policy allows exactly this script (by
 * SHA-256) and no other. Rows are rendered (and escaped) on the server; this script reads
 * their sort/filter keys from the JSON block and only shows, hides and reorders existing
 * elements. It never builds markup from data: text goes in through textContent only.
 * The filter state lives in the URL fragment (#code=MAINLAND_NO_ICP&sev=3), so a filtered
 * view can be bookmarked or shared along with the file.
 */
(function () {
  "use strict";
  var root = document.documentElement;
  var dataElement = document.getElementById("icpscan-data");
  var table = document.getElementById("domains");
  if (!dataElement || !table) {
    return;
  }
  var data = JSON.parse(dataElement.textContent);
  var rows = data.rows;
  var pageSize = data.page_size > 0 ? data.page_size : 100;
  var bodies = [];
  Array.prototype.forEach.call(table.tBodies, function (body) {
    var index = Number(body.getAttribute("data-i"));
    if (body.classList.contains("domain") && rows[index]) {
      bodies[index] = body;
    }
  });
  var all = [];
  for (var i = 0; i < bodies.length; i += 1) {
    if (bodies[i]) {
      all.push(i);
    }
  }

  function byId(id) {
    return document.getElementById(id);
  }
  var controls = {
    q: byId("f-q"),
    region: byId("f-region"),
    sev: byId("f-sev"),
    code: byId("f-code"),
    province: byId("f-province"),
    reach: byId("f-reach")
  };
  var count = byId("f-count");
  var pager = byId("pager");
  var pageInfo = byId("p-info");
  var headers = table.tHead ? table.tHead.querySelectorAll("th[data-sort]") : [];
  var descendingFirst = { s: true, n: true, h: true };
  var state = { sort: "s", dir: -1, page: 0 };

  function filters() {
    var words = controls.q.value.toLowerCase().split(/\s+/).filter(Boolean);
    return {
      words: words,
      region: controls.region.value,
      sev: controls.sev.value,
      code: controls.code.value,
      province: controls.province.value,
      reach: controls.reach.value
    };
  }

  function matches(row, f) {
    for (var w = 0; w < f.words.length; w += 1) {
      if (row.t.indexOf(f.words[w]) < 0) {
        return false;
      }
    }
    if (f.region && row.r !== f.region) {
      return false;
    }
    if (f.sev !== "") {
      var minimum = Number(f.sev);
      if (minimum === 0 ? row.s !== 0 : row.s < minimum) {
        return false;
      }
    }
    if (f.code && row.c.indexOf(f.code) < 0) {
      return false;
    }
    if (f.province && row.p.indexOf(f.province) < 0) {
      return false;
    }
    if (f.reach !== "" && String(row.u) !== f.reach) {
      return false;
    }
    return true;
  }

  function compare(a, b) {
    var ka = rows[a][state.sort];
    var kb = rows[b][state.sort];
    if (ka < kb) {
      return -state.dir;
    }
    if (ka > kb) {
      return state.dir;
    }
    return rows[a].l - rows[b].l || a - b;
  }

  function writeHash(f) {
    var params = new URLSearchParams();
    if (controls.q.value) {
      params.set("q", controls.q.value);
    }
    ["region", "sev", "code", "province", "reach"].forEach(function (key) {
      if (f[key] !== "") {
        params.set(key, f[key]);
      }
    });
    if (state.sort !== "s" || state.dir !== -1) {
      params.set("sort", state.sort);
      params.set("dir", String(state.dir));
    }
    if (state.page) {
      params.set("page", String(state.page + 1));
    }
    var hash = params.toString();
    try {
      history.replaceState(null, "", hash ? "#" + hash : location.pathname + location.search);
    } catch (error) {
      /* file:// in some browsers: the view still works, only the URL does not follow it */
    }
  }

  function readHash() {
    var params = new URLSearchParams(location.hash.replace(/^#/, ""));
    Object.keys(controls).forEach(function (key) {
      if (params.has(key)) {
        controls[key].value = params.get(key);
      }
    });
    var sort = params.get("sort");
    if (sort && rows.length && Object.prototype.hasOwnProperty.call(rows[0], sort)) {
      state.sort = sort;
      state.dir = params.get("dir") === "1" ? 1 : -1;
    }
    var page = parseInt(params.get("page") || "1", 10);
    state.page = page > 0 ? page - 1 : 0;
  }

  function apply() {
    var f = filters();
    var order = all.filter(function (index) {
      return matches(rows[index], f);
    });
    order.sort(compare);
    var pages = Math.max(1, Math.ceil(order.length / pageSize));
    state.page = Math.min(Math.max(state.page, 0), pages - 1);
    var first = state.page * pageSize;
    var onPage = {};
    order.slice(first, first + pageSize).forEach(function (index) {
      onPage[index] = true;
    });
    var fragment = document.createDocumentFragment();
    order.forEach(function (index) {
      fragment.appendChild(bodies[index]);
    });
    table.appendChild(fragment);
    all.forEach(function (index) {
      bodies[index].hidden = !onPage[index];
    });
    var last = Math.min(first + pageSize, order.length);
    count.textContent =
      (order.length ? "showing " + (first + 1) + "\u2013" + last + " of " : "") +
      order.length + " matching domain" + (order.length === 1 ? "" : "s") +
      " (" + all.length + " in this report)";
    pager.hidden = pages <= 1;
    pageInfo.textContent = "page " + (state.page + 1) + " of " + pages;
    byId("p-prev").disabled = state.page === 0;
    byId("p-next").disabled = state.page >= pages - 1;
    Array.prototype.forEach.call(headers, function (th) {
      if (th.getAttribute("data-sort") === state.sort) {
        th.setAttribute("aria-sort", state.dir > 0 ? "ascending" : "descending");
      } else {
        th.removeAttribute("aria-sort");
      }
    });
    root.setAttribute("data-icpscan-matching", String(order.length));
    writeHash(f);
  }

  function refilter() {
    state.page = 0;
    apply();
  }

  var typing = null;
  controls.q.addEventListener("input", function () {
    clearTimeout(typing);
    typing = setTimeout(refilter, 150);
  });
  ["region", "sev", "code", "province", "reach"].forEach(function (key) {
    controls[key].addEventListener("change", refilter);
  });
  byId("f-reset").addEventListener("click", function () {
    Object.keys(controls).forEach(function (key) {
      controls[key].value = "";
    });
    state.sort = "s";
    state.dir = -1;
    refilter();
  });
  byId("filters").addEventListener("submit", function (event) {
    event.preventDefault();
  });
  byId("p-prev").addEventListener("click", function () {
    state.page -= 1;
    apply();
  });
  byId("p-next").addEventListener("click", function () {
    state.page += 1;
    apply();
  });
  Array.prototype.forEach.call(headers, function (th) {
    th.addEventListener("click", function () {
      var key = th.getAttribute("data-sort");
      if (state.sort === key) {
        state.dir = -state.dir;
      } else {
        state.sort = key;
        state.dir = descendingFirst[key] ? -1 : 1;
      }
      apply();
    });
  });
  Array.prototype.forEach.call(document.querySelectorAll("svg g.bar[data-filter]"), function (bar) {
    bar.addEventListener("click", function () {
      var filter = bar.getAttribute("data-filter") || "";
      var cut = filter.indexOf(":");
      var control = controls[filter.slice(0, cut)];
      if (cut > 0 && control) {
        control.value = filter.slice(cut + 1);
        refilter();
        table.scrollIntoView();
      }
    });
  });

  readHash();
  byId("filters").hidden = false;
  root.classList.add("js");
  apply();
  root.setAttribute("data-icpscan-ready", "1");
})();
