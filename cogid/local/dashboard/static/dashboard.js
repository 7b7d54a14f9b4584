// cogid dashboard: the live request log. Rows are built with textContent, never HTML.
"use strict";

function liveRequests(table) {
  const body = table.tBodies[0];
  const live = document.getElementById("live");
  let last = Number(table.dataset.last) || 0;

  function row(request) {
    const tr = document.createElement("tr");
    const status = request.status >= 400 ? "n bad" : "n";  // refused or failed: in red
    for (const [value, kind] of [[request.seq, "n"], [request.time, ""], [request.client, ""],
                                 [request.operation, ""], [request.status, status], [request.ms, "n"]]) {
      const td = document.createElement("td");
      td.textContent = String(value);
      if (kind) td.className = kind;
      tr.appendChild(td);
    }
    return tr;
  }

  async function poll() {
    if (live && !live.checked) return;
    try {
      const reply = await fetch(`${table.dataset.source}?after=${last}`, { cache: "no-store" });
      if (!reply.ok) return;
      const { requests, last: newest } = await reply.json();
      if (newest < last) {  // the server restarted: its numbers start over
        last = 0;
        return;
      }
      for (const request of requests.reverse()) {  // oldest first, each inserted on top
        body.insertBefore(row(request), body.firstChild);
        last = Math.max(last, request.seq);
      }
      while (body.rows.length > 500) body.deleteRow(-1);
      const none = document.getElementById("no-requests");
      if (none && requests.length) none.remove();
    } catch (error) {
      // The server is stopping or starting: try again at the next tick.
    }
  }

  setInterval(poll, 2000);
}

document.addEventListener("DOMContentLoaded", () => {
  const table = document.getElementById("requests");
  if (table) liveRequests(table);
});
