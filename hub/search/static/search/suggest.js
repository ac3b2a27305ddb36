/* Autocomplete for any input with data-suggest-url: an ARIA 1.2 combobox with a listbox popup.
 * Up/Down move through the suggestions (aria-activedescendant keeps focus in the box), Enter opens the
 * chosen one (or searches for the text typed), Escape closes the list (and a second Escape clears the
 * box). Without script the box is a plain search field in a GET form. */
(function () {
  "use strict";
  var counter = 0;

  function setup(input) {
    var id = "search-suggestions-" + (++counter);
    var list = document.createElement("ul");
    var status = document.createElement("div");
    var items = [];
    var active = -1;
    var timer = null;
    var pending = null;

    list.id = id;
    list.className = "search-suggestions";
    list.setAttribute("role", "listbox");
    list.setAttribute("aria-label", input.labels && input.labels[0] ? input.labels[0].textContent.trim() : "");
    list.hidden = true;
    status.className = "visually-hidden";
    status.setAttribute("role", "status");
    input.parentNode.appendChild(list);
    input.parentNode.appendChild(status);
    input.setAttribute("role", "combobox");
    input.setAttribute("aria-autocomplete", "list");
    input.setAttribute("aria-controls", id);
    input.setAttribute("aria-expanded", "false");

    function close() {
      list.hidden = true;
      input.setAttribute("aria-expanded", "false");
      input.removeAttribute("aria-activedescendant");
      active = -1;
    }

    function choose(index) {
      active = index;
      items.forEach(function (li, i) { li.setAttribute("aria-selected", i === index ? "true" : "false"); });
      if (index >= 0) {
        input.setAttribute("aria-activedescendant", items[index].id);
        items[index].scrollIntoView({ block: "nearest" });
      } else {
        input.removeAttribute("aria-activedescendant");
      }
    }

    function go(index) {
      var item = items[index];
      if (item.dataset.url) {
        window.location.href = item.dataset.url;
      } else {
        input.value = item.dataset.text;
        close();
        if (input.form) { input.form.submit(); }
      }
    }

    function show(suggestions) {
      list.textContent = "";
      items = suggestions.map(function (s, i) {
        var li = document.createElement("li");
        li.id = id + "-" + i;
        li.setAttribute("role", "option");
        li.setAttribute("aria-selected", "false");
        li.dataset.url = s.url || "";
        li.dataset.text = s.text;
        li.appendChild(document.createTextNode(s.text));
        if (s.kind_label) {
          var kind = document.createElement("span");
          kind.className = "kind";
          kind.textContent = s.kind_label;
          li.appendChild(kind);
        }
        // mousedown, not click: it comes before the input's blur closes the list.
        li.addEventListener("mousedown", function (event) { event.preventDefault(); go(i); });
        list.appendChild(li);
        return li;
      });
      active = -1;
      input.removeAttribute("aria-activedescendant");
      list.hidden = items.length === 0;
      input.setAttribute("aria-expanded", items.length ? "true" : "false");
      status.textContent = items.length ? items.length + " " + (input.dataset.suggestCount || "")
                                        : (input.dataset.suggestNone || "");
    }

    function fetchSuggestions() {
      var text = input.value.trim();
      if (!text) { show([]); return; }
      if (pending) { pending.abort(); }
      pending = new AbortController();
      var url = input.dataset.suggestUrl + "?q=" + encodeURIComponent(text);
      if (input.dataset.suggestKind) { url += "&kind=" + encodeURIComponent(input.dataset.suggestKind); }
      fetch(url, { signal: pending.signal, headers: { Accept: "application/json" } })
        .then(function (response) { return response.ok ? response.json() : { suggestions: [] }; })
        .then(function (body) { if (input.value.trim() === text) { show(body.suggestions || []); } })
        .catch(function () { /* aborted or offline: the box still searches on Enter */ });
    }

    input.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(fetchSuggestions, 150);
    });
    input.addEventListener("keydown", function (event) {
      var open = !list.hidden && items.length > 0;
      if (event.key === "ArrowDown") {
        if (!open) { fetchSuggestions(); return; }
        event.preventDefault();
        choose(active < items.length - 1 ? active + 1 : 0);
      } else if (event.key === "ArrowUp" && open) {
        event.preventDefault();
        choose(active > 0 ? active - 1 : items.length - 1);
      } else if (event.key === "Enter" && open && active >= 0) {
        event.preventDefault();
        go(active);
      } else if (event.key === "Escape") {
        if (open) { event.preventDefault(); close(); } else if (input.value) { event.preventDefault(); input.value = ""; }
      }
    });
    input.addEventListener("blur", close);
  }

  function init() {
    Array.prototype.forEach.call(document.querySelectorAll("input[data-suggest-url]"), setup);
  }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", init); } else { init(); }
})();
