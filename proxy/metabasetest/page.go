package metabasetest

import (
	"bytes"
	"image"
	"image/png"
	"net/http"
	"sync"
)

// embedPage is the embed app: plain JS that reads the token from its own
// path, calls /api/embed under the same prefix it was served from (so it
// works behind a gate mounted at /analytics), forwards the page's query
// string as user filter values and shows every error it gets. A gate that
// renews its handle answers X-Tenantgate-Handle; the page then uses that
// value as the token. {{nonce}} is the CSP nonce of the response.
const embedPage = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Metabase</title>
<style>
body{font-family:system-ui,-apple-system,sans-serif;margin:16px;color:#2e353b;background:#fff}
h1{font-size:20px;margin:0 0 12px}
h2{font-size:15px;margin:0 0 8px}
form.params{display:flex;gap:12px;flex-wrap:wrap;align-items:flex-end;margin-bottom:12px}
form.params label{display:flex;flex-direction:column;font-size:12px;color:#696e7b}
.dashcard{border:1px solid #eeecec;border-radius:8px;padding:12px;margin-bottom:12px;overflow:auto}
table{border-collapse:collapse;font-size:13px}
th,td{border-bottom:1px solid #eeecec;padding:4px 8px;text-align:left}
.error{color:#ed6e6e;white-space:pre-wrap}
.text h1,.text h2,.text h3{margin:4px 0}
</style>
</head>
<body>
<div id="root">Loading...</div>
<script nonce="{{nonce}}">
(function () {
  "use strict";
  var path = location.pathname;
  var at = path.indexOf("/embed/");
  var base = path.slice(0, at);
  var rest = path.slice(at + "/embed/".length).split("/");
  var kind = rest[0];
  var token = rest[1] || "";
  var root = document.getElementById("root");

  var userParams = {};
  new URLSearchParams(location.search).forEach(function (v, k) {
    userParams[k] = k in userParams ? [].concat(userParams[k], v) : v;
  });
  function query() {
    return "?parameters=" + encodeURIComponent(JSON.stringify(userParams));
  }

  // markdown renders a text card as Metabase's frontend does (headings,
  // lists, paragraphs, bold, italic, code), building nodes with
  // textContent only: the card's text never becomes markup.
  function inline(parent, src) {
    var re = /(\*\*[^*]+\*\*|\*[^*]+\*|\x60[^\x60]+\x60)/g, at = 0, m;
    while ((m = re.exec(src)) !== null) {
      if (m.index > at) parent.appendChild(document.createTextNode(src.slice(at, m.index)));
      var tok = m[0], tag = tok[0] === "\x60" ? "code" : tok[1] === "*" ? "strong" : "em";
      var cut = tag === "strong" ? 2 : 1;
      parent.appendChild(el(tag, null, tok.slice(cut, tok.length - cut)));
      at = m.index + tok.length;
    }
    if (at < src.length) parent.appendChild(document.createTextNode(src.slice(at)));
    return parent;
  }
  function markdown(src) {
    var out = document.createDocumentFragment();
    String(src).split(/\n\s*\n/).forEach(function (block) {
      var lines = block.split("\n").filter(function (l) { return l.trim() !== ""; });
      if (!lines.length) return;
      var h = /^(#{1,6})\s+(.*)$/.exec(lines[0]);
      if (h && lines.length === 1) { out.appendChild(inline(el("h" + h[1].length), h[2])); return; }
      if (lines.every(function (l) { return /^\s*[-*]\s+/.test(l); })) {
        var ul = el("ul");
        lines.forEach(function (l) { ul.appendChild(inline(el("li"), l.replace(/^\s*[-*]\s+/, ""))); });
        out.appendChild(ul);
        return;
      }
      var p = el("p");
      lines.forEach(function (l, i) { if (i) p.appendChild(el("br")); inline(p, l); });
      out.appendChild(p);
    });
    return out;
  }

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }

  function get(url) {
    return fetch(url, {
      credentials: "same-origin",
      headers: {"X-Metabase-Embedded": "true", "X-Metabase-Client": "embedding-iframe"}
    }).then(function (res) {
      var handle = res.headers.get("X-Tenantgate-Handle");
      if (handle) token = handle;
      return res.text().then(function (body) {
        if (!res.ok) throw new Error("HTTP " + res.status + ": " + body);
        var data = JSON.parse(body);
        if (data && data.status === "failed") throw new Error("Query failed: " + (data.error || body));
        return data;
      });
    });
  }

  function showError(parent, err) {
    parent.appendChild(el("div", "error", err && err.message ? err.message : err));
  }

  function renderRows(parent, res) {
    var data = res.data || {};
    var table = el("table", "rows");
    var head = el("tr");
    (data.cols || []).forEach(function (c) { head.appendChild(el("th", null, c.display_name || c.name)); });
    table.appendChild(head);
    (data.rows || []).forEach(function (row) {
      var tr = el("tr");
      row.forEach(function (v) { tr.appendChild(el("td", null, v === null ? "" : v)); });
      table.appendChild(tr);
    });
    parent.appendChild(table);
  }

  function renderParams(params) {
    if (!params || !params.length) return;
    var form = el("form", "params");
    params.forEach(function (p) {
      var label = el("label", null, p.name);
      var input = el("input");
      input.name = p.slug;
      var v = userParams[p.slug];
      input.value = v === undefined ? "" : [].concat(v).join(",");
      label.appendChild(input);
      form.appendChild(label);
    });
    form.appendChild(el("button", null, "Apply"));
    form.addEventListener("submit", function (e) {
      e.preventDefault();
      var q = new URLSearchParams();
      Array.prototype.forEach.call(form.querySelectorAll("input"), function (i) {
        if (i.value !== "") q.append(i.name, i.value);
      });
      var s = q.toString();
      location.search = s ? "?" + s : "";
    });
    root.appendChild(form);
  }

  function dashboard() {
    return get(base + "/api/embed/dashboard/" + token).then(function (d) {
      root.textContent = "";
      root.appendChild(el("h1", "title", d.name));
      renderParams(d.parameters);
      var chain = Promise.resolve();
      (d.dashcards || []).forEach(function (dc) {
        var box = el("div", "dashcard");
        box.setAttribute("data-dashcard-id", dc.id);
        root.appendChild(box);
        if (!dc.card_id) {
          var t = el("div", "text");
          t.appendChild(markdown((dc.visualization_settings || {}).text || ""));
          box.appendChild(t);
          return;
        }
        box.appendChild(el("h2", null, dc.card ? dc.card.name : ""));
        chain = chain.then(function () {
          return get(base + "/api/embed/dashboard/" + token + "/dashcard/" + dc.id + "/card/" + dc.card_id + query())
            .then(function (res) { renderRows(box, res); }, function (err) { showError(box, err); });
        });
      });
      return chain;
    });
  }

  function question() {
    return get(base + "/api/embed/card/" + token).then(function (c) {
      root.textContent = "";
      root.appendChild(el("h1", "title", c.name));
      renderParams(c.parameters);
      var box = el("div", "dashcard");
      root.appendChild(box);
      return get(base + "/api/embed/card/" + token + "/query" + query())
        .then(function (res) { renderRows(box, res); }, function (err) { showError(box, err); });
    });
  }

  var run = kind === "dashboard" ? dashboard : kind === "question" ? question : null;
  if (!run) {
    root.textContent = "";
    showError(root, "Nothing to show at " + path);
    return;
  }
  run().catch(function (err) {
    root.textContent = "";
    showError(root, err);
  });
})();
</script>
</body>
</html>
`

type staticAsset struct {
	contentType string
	body        func() []byte
}

func text(s string) func() []byte { return func() []byte { return []byte(s) } }

// staticAssets are the few files the stand-in serves; any other /app/*
// path is 404 "Not found.".
var staticAssets = map[string]staticAsset{
	"/app/dist/app.css": {"text/css", text("body{font-family:system-ui,sans-serif}\n")},
	"/app/dist/app.js":  {"application/javascript", text("/* Metabase stand-in: the embed page inlines its script. */\n")},
	"/favicon.ico":      {"image/png", tilePNG},
}

// tilePNG is a transparent 256×256 PNG: map tiles and the favicon.
var tilePNG = sync.OnceValue(func() []byte {
	var b bytes.Buffer
	if err := png.Encode(&b, image.NewNRGBA(image.Rect(0, 0, 256, 256))); err != nil {
		panic("metabasetest: " + err.Error())
	}
	return b.Bytes()
})

func writePNG(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "image/png")
	w.WriteHeader(http.StatusOK)
	w.Write(tilePNG())
}
