// campaign.js: progressive enhancement of the sign-and-send form. Without
// it the plain form post and the handler's HTML error page do the same job.
// With it: the letter's signature block follows what the supporter types, a draft
// survives reloads (sessionStorage), and the form is sent as JSON by fetch
// with errors shown beside their fields, never losing a character.
(function () {
  "use strict";
  var d = document;
  var each = function (list, fn) { Array.prototype.forEach.call(list, fn); };

  // Share links (thank-you page): when the site was built with a relative
  // baseURL, complete the campaign's address from this page's origin.
  each(d.querySelectorAll("[data-share^='/'] a"), function (a) {
    var rel = encodeURIComponent(a.parentNode.parentNode.getAttribute("data-share"));
    var h = a.getAttribute("href");
    if (h.slice(-rel.length) === rel) {
      a.setAttribute("href", h.slice(0, -rel.length) + encodeURIComponent(location.origin) + rel);
    }
  });

  // The share block (thank-you page): the browser's own share sheet where
  // there is one, and a button that copies the campaign's address.
  var shareJS = d.querySelector(".share-js");
  var shareList = d.querySelector("[data-share]");
  if (shareJS && shareList) {
    var link = new URL(shareList.getAttribute("data-share"), location.href).href;
    var said = shareJS.querySelector(".copied");
    var native = shareJS.querySelector(".native");
    var sdata = { title: shareJS.dataset.title, text: shareJS.dataset.text, url: link };
    if (navigator.share && (!navigator.canShare || navigator.canShare(sdata))) {
      native.hidden = false;
      native.addEventListener("click", function () {
        navigator.share(sdata).catch(function () { /* dismissed: nothing to do */ });
      });
    }
    shareJS.querySelector(".copy").addEventListener("click", function () {
      var done = function () { said.textContent = shareJS.dataset.copied; };
      var fail = function () { said.textContent = shareJS.dataset.copyFailed; };
      if (navigator.clipboard && navigator.clipboard.writeText) navigator.clipboard.writeText(link).then(done, fail);
      else fail();
    });
    shareJS.hidden = false;
  }

  // The count's image (count.html): its alt text gets the numbers the
  // image shows (its <title>); when it cannot be drawn, it goes.
  var count = d.querySelector(".count img");
  if (count && window.fetch && window.DOMParser) {
    fetch(count.src).then(function (r) {
      if (!r.ok) throw r.status;
      return r.text();
    }).then(function (svg) {
      var t = new DOMParser().parseFromString(svg, "image/svg+xml").querySelector("title");
      if (t) count.alt = t.textContent;
    }).catch(function () { count.parentNode.hidden = true; });
  }

  var form = d.getElementById("sign-form");
  if (!form || !window.fetch) return;
  var el = form.elements, ds = form.dataset;
  var status = d.getElementById("form-status");
  var button = form.querySelector("button[type=submit]");
  var defaults = {}; // merge field name -> the words ("[your city]") shown when empty
  each(d.querySelectorAll("mark[data-field]"), function (m) { defaults[m.dataset.field] = m.textContent; });

  var key = "campaign-draft:" + location.pathname + ":" + el.letter.value;
  var store = null;
  try { store = window.sessionStorage; store.getItem(key); } catch (e) { store = null; }

  // Fields kept in the draft: what the supporter typed, not the hidden ones.
  var drafted = function (f) { return f.name && f.type !== "hidden" && f.type !== "submit" && f.name !== "website"; };

  function save() {
    if (!store) return;
    var o = {};
    each(el, function (f) { if (drafted(f)) o[f.name] = f.type === "checkbox" ? f.checked : f.value; });
    try { store.setItem(key, JSON.stringify(o)); } catch (e) { /* full or blocked: the form still works */ }
  }

  function restore() {
    var o = null;
    try { o = store && JSON.parse(store.getItem(key)); } catch (e) { o = null; }
    if (!o) return;
    each(el, function (f) {
      if (drafted(f) && f.name in o) {
        if (f.type === "checkbox") f.checked = !!o[f.name]; else f.value = o[f.name];
      }
    });
  }

  function value(name) {
    if (name === "full_name") return (value("first_name") + " " + value("last_name")).trim();
    var f = el[name];
    return f && f.value ? f.value.trim() : "";
  }

  function fillMarks() {
    each(d.querySelectorAll("mark[data-field]"), function (m) {
      var name = m.dataset.field;
      m.textContent = value(name) || defaults[name];
    });
  }

  function clearErrors() {
    each(form.querySelectorAll(".error-text"), function (p) { p.parentNode.removeChild(p); });
    each(form.querySelectorAll("[aria-invalid]"), function (f) {
      f.removeAttribute("aria-invalid");
      var hint = f.getAttribute("data-describedby");
      if (hint) f.setAttribute("aria-describedby", hint); else f.removeAttribute("aria-describedby");
    });
    status.textContent = "";
    status.className = "";
  }

  function add(parent, tag, text) {
    var n = d.createElement(tag);
    if (text) n.textContent = text;
    parent.appendChild(n);
    return n;
  }

  // showErrors puts each message beside its field and lists them all in the
  // live region, in the form's order, then moves focus there.
  function showErrors(errors) {
    clearErrors();
    var names = [];
    each(el, function (f) { if (f.name in errors && names.indexOf(f.name) < 0) names.push(f.name); });
    Object.keys(errors).forEach(function (n) { if (names.indexOf(n) < 0) names.push(n); });
    var box = add(status, "div");
    box.className = "errors";
    add(box, "p", ds.errorTitle).className = "title";
    add(box, "p", ds.errorIntro);
    var list = add(box, "ul");
    names.forEach(function (name) {
      var f = el[name], li = add(list, "li"), msg = errors[name];
      if (!f || !f.id || f.type === "hidden" || f.closest(".hp")) {
        li.textContent = msg;
        return;
      }
      var p = d.createElement("p");
      p.className = "error-text";
      p.id = f.id + "-error";
      p.textContent = msg;
      f.parentNode.insertBefore(p, f.type === "checkbox" ? null : f);
      if (!f.hasAttribute("data-describedby")) f.setAttribute("data-describedby", f.getAttribute("aria-describedby") || "");
      f.setAttribute("aria-invalid", "true");
      f.setAttribute("aria-describedby", (p.id + " " + f.getAttribute("data-describedby")).trim());
      var label = d.querySelector("label[for='" + f.id + "']");
      var a = add(li, "a", label ? label.firstChild.textContent.trim() : name);
      a.href = "#" + f.id;
      a.addEventListener("click", function (ev) { ev.preventDefault(); f.focus(); });
      li.appendChild(d.createTextNode(": " + msg));
    });
    status.focus();
  }

  // sameSitePath reports whether u is a path on this site, so that an
  // answer never sends the supporter elsewhere. "//host" and "/\host" name
  // another host (browsers read "\" as "/" and skip tabs and line breaks),
  // so a path starts with one "/" and holds no "\", space or control.
  function sameSitePath(u) {
    if (typeof u !== "string" || !/^\/(?![\/\\])/.test(u) || /[\u0000-\u0020\u007f\\]/.test(u)) return false;
    try { return new URL(u, location.href).origin === location.origin; } catch (e) { return false; }
  }

  function notice(text) {
    clearErrors();
    status.className = "notice";
    add(status, "p", text);
    status.focus();
  }

  // The supporter came from a shared link: record where, if the link says
  // (the handler cleans it further; nothing in it refuses a signature).
  var q = new URLSearchParams(location.search);
  ["source", "utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content"].forEach(function (n) {
    var v = q.get(n) || (n === "source" ? q.get("utm_source") : "");
    if (v && el[n] && !el[n].value) el[n].value = v.replace(/[\u0000-\u001f\u007f]/g, "").slice(0, 100);
  });

  // The letter's field grows with its text, so it reads as a letter
  // rather than a box to scroll (without the script: 16 rows).
  var body = el.body;
  function grow() {
    if (!body) return;
    body.style.height = "auto";
    body.style.height = body.scrollHeight + 2 + "px";
  }

  restore();
  fillMarks();
  grow();
  window.addEventListener("resize", grow);

  // The letter's subject and body are the form's controls but sit outside
  // it (form="sign-form"): their events reach the document, not the form.
  var owned = function (t) { return t && t.form === form; };
  d.addEventListener("input", function (ev) {
    if (!owned(ev.target)) return;
    if (ev.target === body) grow();
    fillMarks();
    save();
  });
  d.addEventListener("change", function (ev) { if (owned(ev.target)) save(); });

  // The server validates and answers with every problem at once; the
  // browser's own bubbles would show them one at a time and unannounced.
  form.noValidate = true;
  var busy = false;
  form.addEventListener("submit", function (ev) {
    ev.preventDefault();
    if (busy) return;
    busy = true;
    var label = button.textContent;
    button.textContent = ds.sending;
    button.setAttribute("aria-disabled", "true");
    var data = {};
    each(el, function (f) { if (f.name) data[f.name] = f.type === "checkbox" ? f.checked : f.value; });
    fetch(form.action, {
      method: "POST",
      headers: { "Content-Type": "application/json", "Accept": "application/json" },
      body: JSON.stringify(data),
      credentials: "same-origin"
    }).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (j) {
        if (r.ok && (j.thanks_url || j.inbox_url)) {
          if (store) try { store.removeItem(key); } catch (e) { /* nothing to clear */ }
          if (j.status === "accepted" || j.status === "confirm") {
            // "confirm": the letter waits for the link emailed to the signer.
            var next = j.status === "confirm" ? j.inbox_url : j.thanks_url;
            // The page's own language's pages when the answer names none of ours.
            location.assign(sameSitePath(next) ? next : j.status === "confirm" ? (ds.inbox || "/check-your-inbox/") : (ds.thanks || "/thanks/"));
          } else {
            notice(j.message);
          }
        } else if (r.status === 429 || r.status >= 500 || !j.errors) {
          showErrors({ request: ds.errorBusy });
        } else {
          showErrors(j.errors);
        }
      });
    }, function () {
      showErrors({ request: ds.errorNetwork });
    }).then(function () {
      busy = false;
      button.textContent = label;
      button.removeAttribute("aria-disabled");
      // Turnstile's token (when the form has the widget) is single use.
      if (window.turnstile) window.turnstile.reset();
    });
  });
})();
