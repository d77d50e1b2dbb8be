// Channel policy preview: posts the policy form to the preview endpoint and shows the answer.
// Without JavaScript the "Preview" button posts the same form and the server renders the page.
// Everything from the server is set with textContent, never as HTML.

const form = document.getElementById("policy-form");
const button = document.getElementById("preview-button");
const result = document.getElementById("preview-result");

function clear(node) {
  while (node.firstChild) node.removeChild(node.firstChild);
}

function item(list, text, className) {
  const li = document.createElement("li");
  li.textContent = text;
  if (className) li.className = className;
  list.appendChild(li);
  return li;
}

function show(data) {
  const t = result.dataset;
  const findings = document.getElementById("preview-findings");
  clear(findings);
  if (data.findings.length === 0) item(findings, t.none, "muted");
  for (const f of data.findings) {
    const li = document.createElement("li");
    const label = document.createElement("strong");
    label.textContent = f.entity;
    const span = document.createElement("span");
    span.className = "muted";
    span.textContent = ` ${f.start}–${f.end} · ${f.score} `;
    const mark = document.createElement("mark");
    mark.textContent = f.value;
    li.append(label, span, mark);
    findings.appendChild(li);
  }
  const d = data.decision;
  document.getElementById("preview-decision").textContent = d.redirect
    ? t.redirect
    : d.open_ticket ? t.ticketOnly : t.noAction;
  const actions = document.getElementById("preview-actions");
  clear(actions);
  const yesNo = (v) => (v ? t.yes : t.no);
  item(actions, `${t.publicReply}: ${yesNo(d.public_reply)}`);
  item(actions, `${t.hide}: ${yesNo(d.hide)}`);
  item(actions, `${t.private}: ${yesNo(d.send_private)}`);
  const reasons = document.getElementById("preview-reasons");
  clear(reasons);
  for (const r of d.reasons) item(reasons, r);
  const reply = document.getElementById("preview-reply");
  clear(reply);
  if (data.reply_text) {
    reply.textContent = data.reply_text;
  } else {
    const span = document.createElement("span");
    span.className = "muted";
    span.textContent = t.noReply;
    reply.appendChild(span);
  }
  document.getElementById("preview-cost").textContent = data.cost;
  document.getElementById("preview-reply-cost").textContent = data.reply_cost;
  document.getElementById("preview-private-cost").textContent = data.private_cost;
  const problems = document.getElementById("preview-problems");
  clear(problems);
  for (const p of data.template_problems) item(problems, p);
  result.hidden = false;
}

function showErrors(data) {
  const problems = document.getElementById("preview-problems");
  clear(problems);
  const errors = (data && data.errors) || {};
  const messages = Object.values(errors).flat();
  if (messages.length === 0) messages.push(result.dataset.failed);
  for (const m of messages) item(problems, m);
  result.hidden = false;
}

if (form && button && result) {
  button.addEventListener("click", async (event) => {
    event.preventDefault();
    const body = new FormData(form);
    body.delete("password");
    button.disabled = true;
    try {
      const response = await fetch(form.dataset.previewUrl, {
        method: "POST",
        body,
        credentials: "same-origin",
        headers: {
          "X-Requested-With": "fetch",
          "X-CSRFToken": body.get("csrfmiddlewaretoken"),
        },
      });
      const data = await response.json().catch(() => null);
      if (response.ok && data && data.type === "preview") show(data);
      else showErrors(data);
    } catch {
      showErrors(null);
    } finally {
      button.disabled = false;
    }
  });
}
