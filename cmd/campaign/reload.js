// Live reload for `campaign serve` (never in a published build): reloads
// this page when the site is rebuilt after an edit, and shows the error
// of an edit that did not build.
(function () {
  "use strict";
  var me = document.currentScript;
  var gen = me && me.getAttribute("data-gen");
  // The alert exists, empty, before any error, so that screen readers
  // announce what is put into it.
  var box = document.createElement("div");
  box.id = "campaign-rebuild-error";
  box.setAttribute("role", "alert");
  document.body.insertBefore(box, document.body.firstChild);

  function show(message) {
    Object.assign(box.style, {
      position: "fixed", top: "0", left: "0", right: "0", zIndex: "2147483647",
      maxHeight: "60vh", overflow: "auto", margin: "0", padding: "1rem",
      background: "#fff4f4", color: "#4a0000", borderBottom: "4px solid #b00020",
      font: "16px/1.4 system-ui, sans-serif", boxShadow: "0 2px 8px rgba(0,0,0,.3)"
    });
    var title = document.createElement("strong");
    title.textContent = "Your edit did not build: this page and the letter sent are still the last good version. Fix the file and save it again.";
    var text = document.createElement("pre");
    Object.assign(text.style, { whiteSpace: "pre-wrap", overflowWrap: "anywhere", font: "14px/1.4 ui-monospace, monospace", margin: ".5rem 0 0" });
    text.textContent = message;
    // The banner covers the page's top: the editor may look under it.
    var hide = document.createElement("button");
    hide.type = "button";
    hide.textContent = "Hide this message";
    hide.addEventListener("click", function () { box.replaceChildren(); box.removeAttribute("style"); });
    Object.assign(hide.style, { font: "inherit", marginTop: ".5rem", padding: ".25rem .75rem" });
    box.replaceChildren(title, text, hide);
  }

  var events = new EventSource("/__campaign/events");
  // A page built before the last rebuild (or by a server since
  // restarted) reloads as soon as it connects.
  events.addEventListener("hello", function (e) {
    if (gen && e.data !== gen) location.reload();
  });
  events.addEventListener("reload", function () { location.reload(); });
  events.addEventListener("broken", function (e) { show(JSON.parse(e.data)); });
})();
