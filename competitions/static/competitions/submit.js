// The submission form with an upload progress bar. Without script the form posts as usual; with it the
// same POST goes through XMLHttpRequest so that the upload's progress can be shown. The server answers
// as it would the plain form: a redirect to the submission's page when accepted (followed here), or the
// page again with the form's errors (its section is swapped in and the error summary focused).
(function () {
  if (!window.FormData || !window.XMLHttpRequest || !window.DOMParser) return;

  // Delegated: the form swapped in after a refusal is handled like the first.
  document.addEventListener("submit", function (event) {
    const form = event.target.closest("form[data-upload]");
    if (!form) return;
    event.preventDefault();
    const box = form.querySelector(".upload-progress");
    const bar = form.querySelector("progress");
    const percent = form.querySelector("[data-upload-percent]");
    const status = form.querySelector("[data-upload-status]");
    const button = form.querySelector("button[type=submit]");
    const request = new XMLHttpRequest();
    box.hidden = false;
    button.disabled = true;
    request.upload.addEventListener("progress", function (progress) {
      if (!progress.lengthComputable) return;
      const value = Math.round((progress.loaded / progress.total) * 100);
      bar.value = value;
      percent.textContent = value + "%";
    });
    request.addEventListener("load", function () {
      const sent = new URL(form.action, location.href);
      const landed = new URL(request.responseURL || sent.href);
      if (request.status < 300 && landed.pathname !== sent.pathname) {
        location.assign(landed.href); // accepted: the submission's page
        return;
      }
      const answer = new DOMParser().parseFromString(request.responseText, "text/html");
      const fresh = answer.getElementById("submit-section");
      if (!fresh) { // not the form again (a 403, a 500): show the page the server sent
        document.documentElement.replaceWith(answer.documentElement);
        return;
      }
      document.getElementById("submit-section").replaceWith(fresh);
      const summary = document.getElementById("error-summary");
      if (summary) summary.focus();
    });
    request.addEventListener("error", function () {
      status.textContent = form.dataset.uploadFailed;
      button.disabled = false;
      box.hidden = true;
    });
    request.open("POST", form.action);
    request.send(new FormData(form));
  });
})();
