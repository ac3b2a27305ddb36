// Live notifications: a websocket per signed-in page; the badge counts what arrived since load.
(function () {
  const badge = document.getElementById("unread-badge");
  if (!badge || !("WebSocket" in window)) return;
  const scheme = location.protocol === "https:" ? "wss://" : "ws://";
  let arrived = 0;
  function connect(delay) {
    const socket = new WebSocket(scheme + location.host + badge.dataset.ws);
    socket.onmessage = function (message) {
      const data = JSON.parse(message.data);
      if (data.event === "created") {
        arrived += 1;
        badge.textContent = String(arrived);
        document.dispatchEvent(new CustomEvent("wanzhi:notification", { detail: data }));
      }
    };
    socket.onclose = function (event) {
      if (event.code !== 4401) setTimeout(function () { connect(Math.min(delay * 2, 30000)); }, delay);
    };
  }
  connect(1000);
})();
