// Haven customer portal. Progressive: every page works without this script.
//
// - Secret links (/r/#t=..., /m/#t=...): the secret lives in the URL fragment, which no server
//   sees. It is copied into the POST form and removed from the address bar at once.
// - The thread: a websocket says "a message arrived" (ids only); the text is fetched over
//   HTTPS as JSON and shown through textContent, never as markup.

const RETRY_MAX_MS = 30000;
const CLOSE_FORBIDDEN = 4403;

function takeFragmentSecret() {
  const form = document.getElementById("exchange-form");
  if (!form) {
    return;
  }
  const input = document.getElementById("exchange-secret");
  const match = /^#t=([A-Za-z0-9_-]{16,200})$/.exec(window.location.hash);
  if (match) {
    input.value = match[1];
  }
  if (window.location.hash || /\/[rm]\/[^/]+$/.test(window.location.pathname)) {
    // Off the address bar and out of the history entry: nothing to copy, share or sync.
    const clean = window.location.pathname.replace(/\/([rm])\/[^/]+$/, "/$1/");
    window.history.replaceState(null, "", clean);
  }
  if (!input.value) {
    document.getElementById("exchange-missing").hidden = false;
    document.getElementById("exchange-button").disabled = true;
  }
}

function guardDoubleSubmit() {
  for (const form of document.querySelectorAll("form")) {
    form.addEventListener("submit", () => {
      // The idempotency key already makes a second submit harmless; this spares the round trip.
      window.setTimeout(() => {
        for (const button of form.querySelectorAll("button[type=submit]")) {
          button.disabled = true;
        }
      }, 0);
    });
  }
}

// Back/forward cache: a restored page gets its buttons back and, for the thread, a new key
// (the old one belongs to the message already sent).
window.addEventListener("pageshow", (event) => {
  if (!event.persisted) {
    return;
  }
  for (const button of document.querySelectorAll("button[type=submit]")) {
    button.disabled = false;
  }
  const key = document.querySelector("#compose-form input[name=key]");
  if (key) {
    key.value = randomKey();
  }
});

function randomKey() {
  const bytes = new Uint8Array(16);
  window.crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

class PortalThread {
  constructor(root) {
    this.root = root;
    this.list = document.getElementById("messages");
    this.status = document.getElementById("live-status");
    this.last = root.dataset.last || "";
    this.retryMs = 1000;
    this.fetching = false;
    this.again = false;
    this.seen = new Set(Array.from(this.list.querySelectorAll("li[data-id]"), (li) => li.dataset.id));
    this.formatter = new Intl.DateTimeFormat(document.documentElement.lang || undefined, {
      dateStyle: "medium",
      timeStyle: "short",
    });
  }

  start() {
    // Server-rendered times are UTC in the site's format; show them like live ones instead.
    for (const time of this.list.querySelectorAll("time[datetime]")) {
      time.textContent = this.formatter.format(new Date(time.dateTime));
    }
    this.connect();
  }

  setLive(state) {
    document.documentElement.dataset.live = state;
  }

  showStatus(text) {
    this.status.textContent = text;
    this.status.hidden = !text;
  }

  connect() {
    const scheme = window.location.protocol === "https:" ? "wss:" : "ws:";
    const socket = new WebSocket(`${scheme}//${window.location.host}${this.root.dataset.socketPath}`);
    socket.addEventListener("open", () => {
      this.retryMs = 1000;
      this.setLive("open");
      this.showStatus("");
      this.refresh(); // catch up on anything missed while disconnected
    });
    socket.addEventListener("message", (event) => {
      let frame;
      try {
        frame = JSON.parse(event.data);
      } catch {
        return;
      }
      if (frame && frame.type === "message_created") {
        this.refresh();
      } else if (frame && frame.type === "access_changed") {
        // An agent linked or unlinked this contact: the server renders what it may read now.
        window.location.reload();
      }
    });
    socket.addEventListener("close", (event) => {
      this.setLive("closed");
      if (event.code === CLOSE_FORBIDDEN) {
        // Access ended (revoked, expired, ticket closed): the server shows what to do next.
        window.location.reload();
        return;
      }
      this.showStatus(this.root.dataset.pausedText || "");
      window.setTimeout(() => this.connect(), this.retryMs);
      this.retryMs = Math.min(this.retryMs * 2, RETRY_MAX_MS);
    });
  }

  async refresh() {
    if (this.fetching) {
      this.again = true;
      return;
    }
    this.fetching = true;
    try {
      do {
        this.again = false;
        await this.fetchNew();
      } while (this.again);
    } catch (error) {
      console.warn("portal refresh failed", error.message);
    } finally {
      this.fetching = false;
    }
  }

  async fetchNew() {
    const url = new URL(this.root.dataset.messagesUrl, window.location.href);
    if (this.last) {
      url.searchParams.set("after", this.last);
    }
    const response = await fetch(url, { credentials: "same-origin", cache: "no-store" });
    if (response.status === 404) {
      window.location.reload();
      return;
    }
    if (!response.ok) {
      throw new Error(`messages ${response.status}`);
    }
    const data = await response.json();
    for (const message of data.messages || []) {
      this.append(message);
    }
  }

  append(message) {
    if (this.seen.has(message.id)) {
      return;
    }
    this.seen.add(message.id);
    this.last = message.id;
    const empty = document.getElementById("messages-empty");
    if (empty) {
      empty.remove();
    }
    const item = document.createElement("li");
    item.className = `message ${message.mine ? "mine" : "theirs"}`;
    item.dataset.id = message.id;
    const who = document.createElement("p");
    who.className = "who";
    who.textContent = message.mine ? this.root.dataset.labelMine : this.root.dataset.labelTheirs;
    const time = document.createElement("time");
    time.dateTime = message.created_at;
    time.textContent = this.formatter.format(new Date(message.created_at));
    who.append(" ", time);
    const body = document.createElement("p");
    body.className = "body";
    body.textContent = message.body === null ? "" : message.body;
    item.append(who, body);
    this.list.append(item);
  }
}

function startThread() {
  const root = document.getElementById("portal-thread");
  if (!root) {
    return;
  }
  const key = document.querySelector("#compose-form input[name=key]");
  if (key && !key.value) {
    key.value = randomKey();
  }
  new PortalThread(root).start();
}

takeFragmentSecret();
guardDoubleSubmit();
startThread();
