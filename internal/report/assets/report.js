// The transcript browser: show the transcripts that match the selects, and
// keep the choice in the address (#filter=tier:paid,model:NAME) so that a
// view can be linked to. Model text is never read or written here: the page
// holds it already escaped, and this script only hides and shows elements.
(function () {
  "use strict";

  // Errors and blocked loads are written into the page, where a reader (and
  // the browser test) sees them.
  var problems = document.getElementById("page-errors");
  function problem(kind, text) {
    var li = document.createElement("li");
    li.className = "page-error";
    li.setAttribute("data-kind", kind);
    li.textContent = kind + ": " + text;
    problems.appendChild(li);
    problems.hidden = false;
  }
  window.addEventListener("error", function (e) {
    problem("script error", e.message);
  });
  document.addEventListener("securitypolicyviolation", function (e) {
    problem("blocked load", e.blockedURI + " (" + e.violatedDirective + ")");
  });

  var selects = Array.prototype.slice.call(document.querySelectorAll("select[data-filter]"));
  var items = Array.prototype.slice.call(document.querySelectorAll("details.transcript"));
  var shown = document.getElementById("shown");

  function apply() {
    var want = [];
    selects.forEach(function (s) {
      if (s.value !== "") {
        want.push([s.getAttribute("data-filter"), s.value]);
      }
    });
    var n = 0;
    items.forEach(function (t) {
      var ok = want.every(function (w) {
        return t.getAttribute("data-" + w[0]) === w[1];
      });
      t.hidden = !ok;
      if (ok) {
        n++;
      }
    });
    if (shown) {
      shown.textContent = String(n);
    }
  }

  function readHash() {
    var m = /^#filter=(.*)$/.exec(location.hash);
    if (!m) {
      return false;
    }
    var want = {};
    m[1].split(",").forEach(function (pair) {
      var i = pair.indexOf(":");
      if (i > 0) {
        try {
          want[decodeURIComponent(pair.slice(0, i))] = decodeURIComponent(pair.slice(i + 1));
        } catch (err) {
          // A malformed link filters on nothing rather than failing.
        }
      }
    });
    selects.forEach(function (s) {
      var k = s.getAttribute("data-filter");
      // A value with no option leaves the select on "all".
      s.value = Object.prototype.hasOwnProperty.call(want, k) ? want[k] : "";
    });
    return true;
  }

  function writeHash() {
    var parts = [];
    selects.forEach(function (s) {
      if (s.value !== "") {
        parts.push(encodeURIComponent(s.getAttribute("data-filter")) + ":" + encodeURIComponent(s.value));
      }
    });
    var hash = parts.length ? "#filter=" + parts.join(",") : "#transcripts";
    try {
      history.replaceState(null, "", hash);
    } catch (err) {
      // Some browsers refuse to change the address of a local file; the
      // filter works all the same.
    }
  }

  selects.forEach(function (s) {
    s.addEventListener("change", function () {
      apply();
      writeHash();
    });
  });
  function onClick(id, fn) {
    var b = document.getElementById(id);
    if (b) {
      b.addEventListener("click", fn);
    }
  }
  onClick("expand", function () {
    items.forEach(function (t) {
      if (!t.hidden) {
        t.open = true;
      }
    });
  });
  onClick("collapse", function () {
    items.forEach(function (t) {
      t.open = false;
    });
  });
  onClick("reset", function () {
    selects.forEach(function (s) {
      s.value = "";
    });
    apply();
    writeHash();
  });
  window.addEventListener("hashchange", function () {
    if (readHash()) {
      apply();
      var list = document.getElementById("transcripts");
      if (list) {
        list.scrollIntoView();
      }
    }
  });

  readHash();
  apply();
  document.body.setAttribute("data-ready", "1");
})();
