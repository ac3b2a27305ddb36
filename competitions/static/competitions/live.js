// Live parts of the competition pages: each element with data-live-ws listens on that websocket and,
// when told something changed, fetches its fragment again (data-live-url with the X-Fragment header)
// and swaps it in. The server renders the fragment, so permissions and language stay the server's.
(function () {
  if (!("WebSocket" in window) || !window.fetch) return;
  const scheme = location.protocol === "https:" ? "wss://" : "ws://";

  function refresh(element) {
    return fetch(element.dataset.liveUrl, { headers: { "X-Fragment": element.dataset.liveFragment }, credentials: "same-origin" })
      .then(function (response) { return response.ok ? response.text() : Promise.reject(response.status); })
      .then(function (html) {
        element.innerHTML = html;
        element.dispatchEvent(new CustomEvent("wanzhi:live-updated", { bubbles: true }));
      })
      .catch(function () { /* the next push, or a reload, brings the truth */ });
  }

  function listen(element, delay) {
    const socket = new WebSocket(scheme + location.host + element.dataset.liveWs);
    socket.onopen = function () {
      element.dataset.liveConnected = "true";
      if (delay > 1000) refresh(element); // reconnected: something may have changed meanwhile
      delay = 1000;
    };
    socket.onmessage = function () { refresh(element); };
    socket.onclose = function (event) {
      element.dataset.liveConnected = "false";
      // 44xx: refused (not signed in, not allowed); retrying would not change that.
      if (event.code < 4400 || event.code >= 4500) {
        setTimeout(function () { listen(element, Math.min(delay * 2, 30000)); }, delay);
      }
    };
  }

  document.querySelectorAll("[data-live-ws]").forEach(function (element) { listen(element, 1000); });
})();
