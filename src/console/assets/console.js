// mcp-bridge console: live updates over Server-Sent Events.
// Agent text is only ever placed with textContent / createTextNode: never
// innerHTML, so nothing an agent wrote can become markup or script; its
// hidden characters are shown as codes, as the server does.
"use strict";
(function () {
  const body = document.body;
  const base = body.dataset.base || "";
  const page = body.dataset.page;
  const conv = body.dataset.conversation;

  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }

  // The characters the server shows as codes, filled in by the server from
  // src/display.rs (`kept`), so the two cannot drift apart: those escaped in a
  // block of text (controls, bidi overrides, invisible format characters,
  // marks drawn over their neighbour, ...), and the further ones escaped in a
  // one-line field (line breaks, tabs, blanks that are not the ASCII space).
  const HIDDEN = /[@HIDDEN_IN_BLOCKS@]/u;
  const HIDDEN_IN_LINES = /[@HIDDEN_IN_LINES@]/u;

  function codeOf(c) {
    const n = c.codePointAt(0);
    return n < 0x80 ? "\\x" + n.toString(16).padStart(2, "0") : "\\u{" + n.toString(16) + "}";
  }

  // Agent text as the server renders it (src/console/text.rs): every hidden
  // character as a visible code in <mark class="hidden-char">, line breaks
  // and tabs kept only in a block (`many`).
  function visible(parent, text, many) {
    let run = "";
    for (const c of text) {
      if (HIDDEN.test(c) || (!many && HIDDEN_IN_LINES.test(c))) {
        if (run) parent.appendChild(document.createTextNode(run));
        run = "";
        const m = el("mark", "hidden-char", codeOf(c));
        m.title = "an invisible, control or text-direction character, shown as its code";
        parent.appendChild(m);
      } else {
        run += c;
      }
    }
    if (run) parent.appendChild(document.createTextNode(run));
  }

  // Text with redaction placeholders wrapped in <mark>, built node by node.
  function highlighted(parent, text, many) {
    const re = /[A-Z][A-Z0-9_]*_REDACTED(?![A-Za-z0-9_])/g;
    let last = 0, m;
    while ((m = re.exec(text)) !== null) {
      visible(parent, text.slice(last, m.index), many);
      const mark = el("mark", "redacted", m[0]);
      mark.title = "a secret was removed here";
      parent.appendChild(mark);
      last = m.index + m[0].length;
    }
    visible(parent, text.slice(last), many);
  }

  function ageText(seconds) {
    if (seconds < 60) return seconds + " s ago";
    if (seconds < 3600) return Math.floor(seconds / 60) + " min ago";
    return Math.floor(seconds / 3600) + " h " + Math.floor((seconds % 3600) / 60) + " min ago";
  }

  function tickAges() {
    const now = Date.now();
    document.querySelectorAll(".age[data-since]").forEach(function (e) {
      const t = Date.parse(e.dataset.since);
      if (isNaN(t)) return;
      const s = Math.max(0, Math.floor((now - t) / 1000));
      e.textContent = ageText(s);
      if (e.dataset.timeout) e.classList.toggle("alive", s <= Number(e.dataset.timeout));
    });
  }
  setInterval(tickAges, 1000);

  function readText(unreadBy) {
    return unreadBy.length === 0 ? "read by every recipient" : "not yet read by: " + unreadBy.join(", ");
  }

  function addMessage(m, fresh) {
    const list = document.getElementById("messages");
    if (!list || document.getElementById("m" + m.id)) return;
    const li = el("li", "message" + (m.from === "system" ? " system" : "") + (fresh ? " fresh" : ""));
    li.id = "m" + m.id;
    li.dataset.id = m.id;
    const meta = el("div", "meta");
    meta.appendChild(el("span", "from", m.from_role + " (" + m.from + ")"));
    meta.appendChild(document.createTextNode(" "));
    meta.appendChild(el("span", "kind", m.action_type));
    if (m.to) {
      meta.appendChild(document.createTextNode(" → "));
      meta.appendChild(el("span", "to", m.to.join(", ")));
    }
    meta.appendChild(document.createTextNode(" "));
    const time = el("time", null, m.created_at);
    time.setAttribute("datetime", m.created_at);
    meta.appendChild(time);
    li.appendChild(meta);
    const pre = el("pre", "content");
    highlighted(pre, m.content, true);
    li.appendChild(pre);
    if (m.files_involved && m.files_involved.length) {
      const ul = el("ul", "files");
      m.files_involved.forEach(function (f) {
        const li2 = el("li");
        const code = el("code");
        highlighted(code, f, false);
        li2.appendChild(code);
        ul.appendChild(li2);
      });
      li.appendChild(ul);
    }
    li.appendChild(el("div", "readstate", readText(m.unread_by || [])));
    list.appendChild(li);
    const none = document.getElementById("no-messages");
    if (none) none.remove();
  }

  function setStatus(p) {
    document.querySelectorAll('.participant[data-side="' + CSS.escape(p.session_id) + '"]').forEach(function (div) {
      const row = div.closest("[data-conversation]");
      if (row && row.dataset.conversation !== p.conversation_id && page !== "conversation") return;
      const s = div.querySelector(".status");
      if (s) { s.textContent = p.status; s.className = "status " + p.status; }
      let age = div.querySelector(".age");
      if (p.last_heartbeat) {
        if (!age) { div.appendChild(document.createTextNode(" ")); age = el("span", "age"); div.appendChild(age); }
        age.dataset.since = p.last_heartbeat;
        // A first heartbeat creates the age: it needs the timeout to turn green.
        if (p.heartbeat_timeout_s) age.dataset.timeout = p.heartbeat_timeout_s;
      }
      let note = div.querySelector(".note");
      if (p.note) {
        if (!note) { div.appendChild(document.createTextNode(" — ")); note = el("span", "note"); div.appendChild(note); }
        note.textContent = "";
        visible(note, p.note, false);
      } else if (note) { note.textContent = ""; }
    });
    tickAges();
  }

  // One overview row from a conversation's JSON (an `conversation` event or the list).
  function updateRow(c) {
    const tbody = document.querySelector("#conversations tbody");
    if (!tbody) return;
    const row = tbody.querySelector('tr[data-conversation="' + CSS.escape(c.id) + '"]');
    if (!row) { location.reload(); return; }
    const cells = row.children;
    cells[2].textContent = String(c.messages);
    const unread = cells[3];
    unread.textContent = "";
    Object.keys(c.unread).forEach(function (side) {
      const n = c.unread[side];
      unread.appendChild(el("span", "unread" + (n === 0 ? " zero" : ""), side + ": " + n));
      unread.appendChild(document.createTextNode(" "));
    });
    if (c.last_message_at) {
      cells[4].textContent = "";
      const a = el("span", "age"); a.dataset.since = c.last_message_at; cells[4].appendChild(a);
    }
    c.participants.forEach(function (p) { p.conversation_id = c.id; setStatus(p); });
    tickAges();
  }

  function refreshList() {
    fetch(base + "/api/conversations", { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (data) { if (data) data.conversations.forEach(updateRow); });
  }

  function catchUp() {
    fetch(base + "/api/conversations/" + encodeURIComponent(conv), { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (data) { if (data) data.messages.forEach(function (m) { addMessage(m, false); }); });
  }

  if (!page || page === "login" || page === "error" || page === "outcome") { tickAges(); return; }
  const url = base + "/events" + (page === "conversation" && conv ? "?conversation=" + encodeURIComponent(conv) : "");
  const source = new EventSource(url);
  const live = document.getElementById("live");
  source.onopen = function () {
    if (live) { live.textContent = "live"; live.className = "live on"; }
    // Whatever was committed between rendering the page and subscribing.
    if (page === "conversation") catchUp();
    if (page === "conversations") refreshList();
  };
  source.onerror = function () { if (live) { live.textContent = "reconnecting…"; live.className = "live"; } };
  source.addEventListener("message", function (e) {
    const m = JSON.parse(e.data);
    if (page === "conversation" && m.conversation_id === conv) addMessage(m, true);
  });
  source.addEventListener("conversation", function (e) {
    if (page === "conversations") updateRow(JSON.parse(e.data));
  });
  source.addEventListener("status", function (e) {
    const p = JSON.parse(e.data);
    if (page === "conversation" || page === "conversations") setStatus(p);
  });
  source.addEventListener("read", function (e) {
    const r = JSON.parse(e.data);
    const li = document.getElementById("m" + r.message_id);
    if (li) { const rs = li.querySelector(".readstate"); if (rs) rs.textContent = readText(r.unread_by); }
  });
  // Whether the page already shows what an event announces (an event about
  // the state the page was rendered with must not reload it).
  function alreadyShown(kind, d) {
    return Array.from(document.querySelectorAll("section." + kind)).some(function (s) {
      if (s.dataset.state !== String(d.state)) return false;
      if (kind === "proposal") return s.dataset.proposal === String(d.id);
      return s.dataset.conversation === String(d.conversation_id) &&
        s.dataset.requested === String(d.requested_at_us);
    });
  }
  // The YOLO page never rearranges itself under the human's pointer. It
  // used to reload when a proposal arrived (unless a field held text), and
  // the newest proposal could then take the place of the one whose
  // "Approve" the human was about to click. Now what arrives is announced in
  // the bar at the top, whose place the server keeps from the start, and a
  // changed section only gets an outline (no size change); the page shows
  // the news when the human presses "show them". Approving names the
  // proposal by id, so it acts on the command the human read.
  const news = { proposals: new Set(), activations: new Set(), changes: new Set(), stale: false };
  const title = document.title;
  function plural(n, one, many) { return n + " " + (n === 1 ? one : many); }
  function announce() {
    const bar = document.getElementById("news");
    const text = document.getElementById("news-text");
    if (!bar || !text) return;
    const parts = [];
    if (news.proposals.size) parts.push(plural(news.proposals.size, "new proposal", "new proposals"));
    if (news.activations.size) parts.push(plural(news.activations.size, "new activation request", "new activation requests"));
    if (news.changes.size) parts.push(plural(news.changes.size, "change", "changes"));
    if (news.stale) parts.push("this page may be out of date");
    text.textContent = parts.join(", ") + " —";
    bar.classList.add("has-news");
    const n = news.proposals.size + news.activations.size + news.changes.size;
    document.title = "(" + (n || "!") + ") " + title;
  }
  const showNews = document.getElementById("show-news");
  if (showNews) showNews.addEventListener("click", function () { location.reload(); });
  function yoloChanged(e) {
    if (page !== "yolo") return;
    let d = null;
    try { d = JSON.parse(e.data); } catch (_) { d = null; }
    if (!d) { news.stale = true; announce(); return; }
    if (alreadyShown(e.type, d)) return;
    const key = e.type === "proposal" ? String(d.id) : String(d.conversation_id);
    const selector = e.type === "proposal"
      ? 'section.proposal[data-proposal="' + CSS.escape(key) + '"]'
      : 'section.activation[data-conversation="' + CSS.escape(key) + '"]';
    const shown = document.querySelector(selector);
    if (shown) {
      news.changes.add(e.type + ":" + key);
      shown.classList.add("stale");
      shown.title = "This changed since the page was drawn (now " + d.state + "); press \u201cshow them\u201d at the top to see it.";
    } else if (e.type === "proposal") {
      news.proposals.add(key);
    } else {
      news.activations.add(key);
    }
    announce();
  }
  source.addEventListener("proposal", yoloChanged);
  source.addEventListener("activation", yoloChanged);
  source.addEventListener("lagged", function () {
    // Missed events: on the YOLO page say so rather than redraw it.
    if (page === "yolo") { news.stale = true; announce(); return; }
    location.reload();
  });
  // Signed out elsewhere, expired or revoked: the reload asks to sign in.
  source.addEventListener("ended", function () { source.close(); location.reload(); });
  tickAges();
})();
