// Haven agent UI: live updates over websockets, content refetched over HTTPS, shortcuts.
//
// Websocket frames carry ids and statuses only. On every event, and after every reconnect,
// the page refetches a fragment that the server rendered (autoescaped) and swaps it in by id.
// No string from a frame or a form ever becomes markup: text goes through textContent/value.

const POLL_MS = 15000;
const PRESENCE_HEARTBEAT_MS = 20000;
const PRESENCE_EXPIRY_MS = 45000;

function randomKey() {
  if (window.crypto && typeof window.crypto.randomUUID === "function") {
    return window.crypto.randomUUID();
  }
  const bytes = new Uint8Array(16);
  window.crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

function csrfToken() {
  const input = document.querySelector("input[name=csrfmiddlewaretoken]");
  return input ? input.value : "";
}

// Fetches one of our own fragments. DOMParser builds an inert document (no script runs, no
// resource loads); nodes are then imported into the page by id.
async function fetchDocument(url, options = {}) {
  const response = await fetch(url, {
    credentials: "same-origin",
    ...options,
    headers: { "X-Requested-With": "fetch", ...(options.headers || {}) },
  });
  if (response.status === 401 || response.status === 404 || response.redirected) {
    // Signed out, second factor needed, or access gone: let the server decide the page.
    window.location.reload();
    return null;
  }
  if (!response.ok) {
    throw new Error(`fragment ${response.status}`);
  }
  return new DOMParser().parseFromString(await response.text(), "text/html");
}

function swapById(doc, ids) {
  for (const id of ids) {
    const fresh = doc.getElementById(id);
    const current = document.getElementById(id);
    if (fresh && current) {
      current.replaceWith(document.importNode(fresh, true));
    }
  }
}

// Runs ``task`` at most once at a time; calls made meanwhile fold into one more run.
function coalesce(task) {
  let running = false;
  let again = false;
  return async function run() {
    if (running) {
      again = true;
      return;
    }
    running = true;
    try {
      do {
        again = false;
        await task();
      } while (again);
    } catch (error) {
      console.warn("refresh failed", error.message);
    } finally {
      running = false;
    }
  };
}

class LiveSocket {
  constructor(path, { onEvent, onResync }) {
    this.path = path;
    this.onEvent = onEvent;
    this.onResync = onResync;
    this.banner = document.getElementById("live-banner");
    this.delay = 1000;
    this.everOpen = false;
    this.pollTimer = null;
    this.socket = null;
    this.stopped = false;
    window.addEventListener("pagehide", () => this.stop());
  }

  url() {
    const scheme = window.location.protocol === "https:" ? "wss:" : "ws:";
    return `${scheme}//${window.location.host}${this.path}`;
  }

  connect() {
    if (this.stopped) return;
    const socket = new WebSocket(this.url());
    this.socket = socket;
    socket.addEventListener("open", () => {
      this.delay = 1000;
      this.setPaused(false);
      if (this.everOpen) this.onResync();
      this.everOpen = true;
      document.documentElement.dataset.live = "open";
    });
    socket.addEventListener("message", (message) => {
      let data;
      try {
        data = JSON.parse(message.data);
      } catch {
        return;
      }
      if (data && typeof data.type === "string") this.onEvent(data);
    });
    socket.addEventListener("close", () => {
      document.documentElement.dataset.live = "closed";
      if (this.stopped) return;
      this.setPaused(true);
      window.setTimeout(() => this.connect(), this.delay);
      this.delay = Math.min(this.delay * 2, 30000);
    });
  }

  send(data) {
    if (this.socket && this.socket.readyState === WebSocket.OPEN) {
      this.socket.send(JSON.stringify(data));
    }
  }

  setPaused(paused) {
    if (this.banner) this.banner.hidden = !paused;
    if (paused && this.pollTimer === null) {
      this.pollTimer = window.setInterval(() => this.onResync(), POLL_MS);
    } else if (!paused && this.pollTimer !== null) {
      window.clearInterval(this.pollTimer);
      this.pollTimer = null;
    }
  }

  stop() {
    this.stopped = true;
    if (this.pollTimer !== null) window.clearInterval(this.pollTimer);
    // Closing a socket that is still connecting logs a browser error; navigation ends it anyway.
    if (this.socket && this.socket.readyState === WebSocket.OPEN) this.socket.close();
  }
}

// --- the inbox list ------------------------------------------------------------------------

function startInbox(root) {
  const refresh = coalesce(async () => {
    const focusedRow = document.activeElement && document.activeElement.closest(".ticket-row");
    const focusedId = focusedRow ? focusedRow.dataset.ticket : null;
    const doc = await fetchDocument(root.dataset.refreshUrl + window.location.search);
    if (!doc) return;
    swapById(doc, ["inbox-rows-body"]);
    if (focusedId) {
      const again = document.querySelector(`.ticket-row[data-ticket="${CSS.escape(focusedId)}"] a`);
      if (again) again.focus();
    }
    root.dataset.refreshedAt = String(Date.now());
  });
  const live = new LiveSocket(root.dataset.wsPath, {
    onEvent: (event) => {
      if (event.type === "ticket_changed" || event.type === "tickets_created") refresh();
    },
    onResync: refresh,
  });
  live.connect();
}

// --- one ticket ----------------------------------------------------------------------------

function startTicket(root) {
  const presenceBox = document.getElementById("presence");
  const others = new Map();

  function renderPresence() {
    const now = Date.now();
    for (const [id, entry] of others) {
      if (now - entry.at > PRESENCE_EXPIRY_MS) others.delete(id);
    }
    const parts = [];
    for (const entry of others.values()) {
      // Translated templates from the page; the name is inserted literally, as text.
      const name = entry.name || presenceBox.dataset.someone;
      const template = entry.state === "typing" ? presenceBox.dataset.typing : presenceBox.dataset.viewing;
      parts.push(template.split("{name}").join(name));
    }
    presenceBox.textContent = parts.join(" · ");
    presenceBox.hidden = parts.length === 0;
    presenceBox.classList.toggle("is-typing", [...others.values()].some((e) => e.state === "typing"));
  }

  const refresh = coalesce(async () => {
    const doc = await fetchDocument(root.dataset.refreshUrl);
    if (!doc) return;
    swapById(doc, ["ticket-thread", "ticket-side"]);
    root.dataset.refreshedAt = String(Date.now());
  });

  const live = new LiveSocket(root.dataset.wsPath, {
    onEvent: (event) => {
      if (event.type === "presence") {
        if (event.state === "left") others.delete(event.agent);
        else others.set(event.agent, { name: event.name, state: event.state, at: Date.now() });
        renderPresence();
      } else if (["message_created", "action_changed", "ticket_changed"].includes(event.type)) {
        refresh();
      }
    },
    onResync: refresh,
  });
  live.connect();
  window.setInterval(() => {
    live.send({ type: "presence", state: "viewing" });
    renderPresence();
  }, PRESENCE_HEARTBEAT_MS);

  let lastTyping = 0;
  let idleTimer = null;
  document.addEventListener("input", (event) => {
    if (!event.target.matches("[data-typing]")) return;
    const now = Date.now();
    if (now - lastTyping > 3000) {
      live.send({ type: "presence", state: "typing" });
      lastTyping = now;
    }
    window.clearTimeout(idleTimer);
    idleTimer = window.setTimeout(() => {
      live.send({ type: "presence", state: "viewing" });
      lastTyping = 0;
    }, 6000);
  });

  // Click-to-reveal: POST (it is audited), then swap in the one message.
  document.addEventListener("submit", async (event) => {
    const form = event.target;
    if (!form.matches("form[data-reveal]")) return;
    event.preventDefault();
    const article = form.closest("article");
    try {
      const doc = await fetchDocument(form.action, {
        method: "POST",
        body: new FormData(form),
        headers: { "X-CSRFToken": csrfToken() },
      });
      // Only the body changes: the header keeps the author name this page already shows.
      const fresh = doc && article ? doc.getElementById(article.id) : null;
      if (fresh) {
        for (const selector of [".msg-body", ".marker"]) {
          const current = article.querySelector(selector);
          const replacement = fresh.querySelector(selector);
          if (current && replacement) current.replaceWith(document.importNode(replacement, true));
        }
        form.remove();
      }
    } catch (error) {
      console.warn("reveal failed", error.message);
    }
  });

  const cannedData = document.getElementById("canned-data");
  const canned = cannedData ? JSON.parse(cannedData.textContent) : [];
  const reference = root.querySelector("h1 .ref");
  document.addEventListener("change", (event) => {
    const select = event.target;
    if (!select.matches("select[data-canned-target]")) return;
    const chosen = canned.find((item) => item.id === select.value);
    const target = document.getElementById(select.dataset.cannedTarget);
    if (chosen && target) {
      // Literal substitution only: the placeholder is replaced, nothing is evaluated.
      const ref = reference ? reference.textContent : "";
      const text = chosen.body.split("{ref}").join(ref);
      target.value = target.value ? `${target.value}\n${text}` : text;
      target.focus();
      target.dispatchEvent(new Event("input", { bubbles: true }));
    }
    select.value = "";
  });
}

// --- forms and shortcuts -------------------------------------------------------------------

document.addEventListener("submit", (event) => {
  const form = event.target;
  if (!form.matches("form[data-compose]")) return;
  const key = form.querySelector("[data-idempotency]");
  if (key && !key.value) key.value = randomKey();
  const button = form.querySelector("button[type=submit]");
  if (button) window.setTimeout(() => (button.disabled = true), 0);
});

function isTyping(target) {
  return target.closest("input, textarea, select, [contenteditable=true]") !== null;
}

document.addEventListener("keydown", (event) => {
  const target = event.target;
  if (event.key === "Enter" && (event.ctrlKey || event.metaKey) && target.matches("textarea")) {
    const form = target.closest("form[data-compose]");
    if (form) {
      event.preventDefault();
      form.requestSubmit();
    }
    return;
  }
  if (event.ctrlKey || event.metaKey || event.altKey || isTyping(target)) return;
  if (event.key === "/") {
    const search = document.getElementById("id_q");
    if (search) {
      event.preventDefault();
      search.focus();
    }
  } else if (event.key === "j" || event.key === "k") {
    const links = [...document.querySelectorAll(".ticket-row .row-link")];
    if (!links.length) return;
    const index = links.indexOf(document.activeElement);
    const next = event.key === "j" ? Math.min(index + 1, links.length - 1) : Math.max(index - 1, 0);
    links[index === -1 ? 0 : next].focus();
    event.preventDefault();
  } else if (event.key === "r" || event.key === "n") {
    const field = document.querySelector(`[data-shortcut="${event.key}"]`);
    if (field) {
      event.preventDefault();
      field.focus();
    }
  } else if (event.key === "u") {
    const back = document.querySelector('[data-shortcut="u"]');
    if (back) window.location.assign(back.href);
  }
});

const root = document.querySelector("[data-live]");
if (root && root.dataset.live === "inbox") startInbox(root);
if (root && root.dataset.live === "ticket") startTicket(root);

// --- copy buttons (the new public link) ------------------------------------------------------

// Without JavaScript the field stays selectable; with it, the hidden button copies its value.
for (const button of document.querySelectorAll("button[data-copy]")) {
  const field = document.getElementById(button.dataset.copy);
  const status = document.getElementById(button.dataset.copyStatus || "");
  if (!field || !navigator.clipboard) continue;
  button.hidden = false;
  button.addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(field.value);
      if (status) status.textContent = button.dataset.copied || "";
    } catch {
      field.focus();
      field.select();
    }
  });
}
