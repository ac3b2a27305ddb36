/* Autosave for the scenario and proposal forms.
 *
 * A form with data-autosave-url is posted there as a draft two seconds after the last edit; the
 * answer (JSON) says "Draft saved at HH:MM" (in the page's language) into the aria-live region
 * named by data-autosave-status. Files are never autosaved: they go with the form's own buttons.
 * The first save of a new scenario creates it, so the answer's URLs replace the form's. Without
 * script the form's "Save draft" button does the same, so nothing here is needed to save.
 */
(function () {
  "use strict";
  var DELAY_MS = 2000;

  // A form that came back with errors: move focus to their summary, whose links lead to the fields.
  var summary = document.getElementById("error-summary");
  if (summary) summary.focus();

  Array.prototype.forEach.call(document.querySelectorAll("form[data-autosave-url]"), setUp);

  function setUp(form) {
    var status = document.getElementById(form.dataset.autosaveStatus);
    var timer = null;
    var inFlight = false;
    var again = false;

    function schedule(event) {
      if (event.target && event.target.type === "file") return;
      window.clearTimeout(timer);
      timer = window.setTimeout(save, DELAY_MS);
    }
    form.addEventListener("input", schedule);
    form.addEventListener("change", schedule);
    // A real submit wins: no draft save may land after it.
    form.addEventListener("submit", function () { window.clearTimeout(timer); });

    function say(text) {
      if (status) status.textContent = text;
    }

    function body() {
      var data = new FormData(form);
      var names = [];
      data.forEach(function (value, name) { if (value instanceof File) names.push(name); });
      names.forEach(function (name) { data.delete(name); });
      data.delete("remove_attachments");
      data.set("action", "draft");
      return data;
    }

    function save() {
      // One request at a time, so a new scenario is created once; edits made meanwhile go next.
      if (inFlight) { again = true; return; }
      inFlight = true;
      var token = form.querySelector("input[name=csrfmiddlewaretoken]");
      fetch(form.dataset.autosaveUrl, {
        method: "POST",
        body: body(),
        credentials: "same-origin",
        headers: { "Accept": "application/json", "X-CSRFToken": token ? token.value : "" }
      }).then(function (response) {
        return response.json().then(function (answer) {
          say(answer.message || form.dataset.autosaveFailed);
          if (response.ok && answer.saved) follow(answer);
        });
      }).catch(function () {
        say(form.dataset.autosaveFailed);
      }).then(function () {
        inFlight = false;
        if (again) { again = false; save(); }
      });
    }

    function follow(answer) {
      if (answer.autosave_url) form.dataset.autosaveUrl = answer.autosave_url;
      if (answer.edit_url && form.getAttribute("action") !== answer.edit_url) {
        form.setAttribute("action", answer.edit_url);
        if (window.history && window.history.replaceState) window.history.replaceState(null, "", answer.edit_url);
      }
    }
  }
})();
