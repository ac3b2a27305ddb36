// Display toolbar (无障碍浏览): applies a choice at once and saves it through /display/, whose
// cookie stays the one source of truth (hub/cms/display.py); adds the reading guide and read-aloud,
// which need script. Without this file every other choice still works as a plain form post.
(function () {
  const root = document.documentElement;
  const form = document.getElementById("display-tools");
  if (!form || !window.fetch) return;

  const steps = form.dataset.zoomSteps.split(" ").map(Number);
  const toggles = ["elder", "cursor", "guide"];
  const defaults = { scheme: "original", zoom: 100, elder: false, cursor: false, guide: false };
  const ours = /^(scheme-.+|zoom-\d+|elder|cursor-large|guide)$/;
  let state = JSON.parse(form.dataset.state);

  // The same class names as Display.html_class on the server.
  function classesFor(display) {
    const names = [];
    if (display.scheme !== "original") names.push("scheme-" + display.scheme);
    if (display.zoom !== 100) names.push("zoom-" + display.zoom);
    if (display.elder) names.push("elder");
    if (display.cursor) names.push("cursor-large");
    if (display.guide) names.push("guide");
    return names;
  }

  // What the server will answer, guessed so the page changes before the round trip; its answer wins.
  function changed(display, name, value) {
    if (name === "reset") return Object.assign({}, defaults);
    const next = Object.assign({}, display);
    if (name === "scheme") next.scheme = value;
    if (name === "zoom") {
      const at = steps.indexOf(display.zoom);
      if (value === "in") next.zoom = steps[Math.min(at + 1, steps.length - 1)];
      else if (value === "out") next.zoom = steps[Math.max(at - 1, 0)];
      else next.zoom = 100;
    }
    if (toggles.includes(name)) next[name] = value === "on";
    return next;
  }

  function render(display) {
    state = display;
    Array.from(root.classList).filter((name) => ours.test(name)).forEach((name) => root.classList.remove(name));
    root.classList.add(...classesFor(display));
    form.querySelectorAll('button[name="scheme"]').forEach(function (button) {
      button.setAttribute("aria-pressed", String(button.value === display.scheme));
    });
    toggles.forEach(function (name) {
      const button = form.querySelector('button[name="' + name + '"]');
      button.setAttribute("aria-pressed", String(display[name]));
      button.value = display[name] ? "off" : "on";
    });
    document.getElementById("a11y-zoom-level").textContent = display.zoom + "%";
    guide.show(display.guide);
  }

  // If saving fails (offline, expired CSRF token), fall back to the plain post, which reloads.
  function postWithoutScript(name, value) {
    const field = document.createElement("input");
    field.type = "hidden";
    field.name = name;
    field.value = value;
    form.appendChild(field);
    form.submit(); // fires no submit event, so the handler below does not run again
  }

  function save(name, value) {
    const body = new FormData(form);
    body.append(name, value);
    return fetch(form.action, {
      method: "POST", body: body, headers: { Accept: "application/json" }, credentials: "same-origin",
    }).then(function (response) {
      if (!response.ok) throw new Error("display not saved: " + response.status);
      return response.json();
    });
  }

  // Saves go one at a time: each one's answer sets the cookie the next one starts from, so
  // quick presses (five times "Larger") add up instead of racing.
  let saving = Promise.resolve();
  let unsaved = 0;
  form.addEventListener("submit", function (event) {
    const button = event.submitter;
    if (!button || !button.name) return;
    event.preventDefault();
    const name = button.name;
    const value = button.value;
    render(changed(state, name, value));
    unsaved += 1;
    saving = saving.then(function () { return save(name, value); }).then(
      function (answer) {
        unsaved -= 1;
        if (unsaved === 0) render(answer.display); // an earlier answer would undo later presses
      },
      function () {
        unsaved -= 1;
        postWithoutScript(name, value);
      },
    );
  });

  // Escape closes the open toolbar and returns focus to its summary.
  const details = form.closest("details");
  details.addEventListener("keydown", function (event) {
    if (event.key === "Escape" && details.open) {
      details.open = false;
      details.querySelector("summary").focus();
    }
  });

  // Reading guide: a horizontal bar just below the pointer, or below the focused control for
  // keyboard users. Pointer events never reach it (see .reading-guide in site.css).
  const guide = (function () {
    let bar = null;
    function place(y) { bar.style.transform = "translateY(" + Math.round(y) + "px)"; }
    function onPointer(event) { place(event.clientY + 12); }
    function onFocus(event) { place(event.target.getBoundingClientRect().bottom + 2); }
    return {
      show: function (on) {
        if (on && !bar) {
          bar = document.createElement("div");
          bar.className = "reading-guide";
          bar.setAttribute("aria-hidden", "true");
          document.body.appendChild(bar);
          place(-20);
          document.addEventListener("pointermove", onPointer, { passive: true });
          document.addEventListener("focusin", onFocus);
        } else if (!on && bar) {
          bar.remove();
          bar = null;
          document.removeEventListener("pointermove", onPointer);
          document.removeEventListener("focusin", onFocus);
        }
      },
    };
  })();

  // Read aloud: the selected text, else the main content, in the page's language.
  function setUpReadAloud() {
    const button = document.getElementById("a11y-read-aloud");
    if (!button || !("speechSynthesis" in window)) return; // stays hidden
    const synth = window.speechSynthesis;
    let selected = "";
    // Pressing the button may clear the selection, so remember it first.
    button.addEventListener("pointerdown", function () { selected = String(window.getSelection()).trim(); });
    button.addEventListener("click", function () {
      if (synth.speaking || synth.pending) {
        synth.cancel();
        button.setAttribute("aria-pressed", "false");
        return;
      }
      const text = selected || String(window.getSelection()).trim() || document.getElementById("main").innerText;
      selected = "";
      speak(synth, text, function () { button.setAttribute("aria-pressed", "false"); });
      button.setAttribute("aria-pressed", "true");
    });
    window.addEventListener("pagehide", function () { synth.cancel(); });
    button.hidden = false;
  }

  function speak(synth, text, done) {
    const lang = root.lang.toLowerCase().startsWith("zh") ? "zh-CN" : "en";
    const voice = synth.getVoices().find(function (v) {
      return v.lang.replace("_", "-").toLowerCase().startsWith(lang.toLowerCase());
    });
    // Sentence-sized utterances: Chromium stops long ones after about fifteen seconds.
    const sentences = text.match(/[^。！？!?.\n]+[。！？!?.]*/g) || [];
    const parts = sentences.map((s) => s.trim()).filter(Boolean);
    if (!parts.length) return done();
    parts.forEach(function (part, index) {
      const utterance = new SpeechSynthesisUtterance(part);
      utterance.lang = lang;
      if (voice) utterance.voice = voice;
      if (index === parts.length - 1) utterance.onend = utterance.onerror = done;
      synth.speak(utterance);
    });
  }

  form.querySelectorAll('[data-needs-js]:not(#a11y-read-aloud)').forEach(function (el) { el.hidden = false; });
  setUpReadAloud();
  render(state);
})();
