// Ladder's one script. Every page works without it; it adds keyboard shortcuts, the
// Escalate dialog, and live updates: on any event of the signed-in person's stream it fetches
// the page again and swaps in its <main>, highlighting queue rows that are new or changed.
(function () {
  "use strict";

  function typing(el) {
    return el && (el.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(el.tagName));
  }

  function openDialog(id) {
    var d = document.getElementById(id);
    if (d && typeof d.showModal === "function" && !d.open) {
      d.showModal();
      var first = d.querySelector("select, input:not([type=hidden]), textarea");
      if (first) first.focus();
      return true;
    }
    return false;
  }

  // Buttons and links marked data-dialog="ID" open that dialog instead of following the
  // link to the plain section; a dialog's [data-close] button closes it.
  document.addEventListener("click", function (ev) {
    var opener = ev.target.closest("[data-dialog]");
    if (opener) {
      var prefill = opener.getAttribute("data-prefill");
      if (prefill) prefillEscalate(JSON.parse(prefill));
      if (openDialog(opener.getAttribute("data-dialog"))) ev.preventDefault();
      return;
    }
    var closer = ev.target.closest("[data-close]");
    if (closer) {
      var d = closer.closest("dialog");
      if (d) d.close();
    }
  });

  function prefillEscalate(p) {
    var form = document.querySelector("dialog form[data-escalate]");
    if (!form) return;
    if (p.category && form.elements.category) form.elements.category.value = p.category;
    if (p.note && form.elements.note && !form.elements.note.value) form.elements.note.value = p.note;
  }

  document.addEventListener("keydown", function (ev) {
    if (ev.ctrlKey || ev.metaKey || ev.altKey || typing(ev.target)) return;
    if (document.querySelector("dialog[open]")) return;
    if (ev.key === "/") {
      var q = document.getElementById("q");
      if (q) { ev.preventDefault(); q.focus(); }
    } else if (ev.key === "e") {
      if (openDialog("escalate-dialog")) ev.preventDefault();
    } else if (ev.key === "a") {
      var ack = document.getElementById("acknowledge");
      if (ack) { ev.preventDefault(); ack.requestSubmit ? ack.requestSubmit() : ack.submit(); }
    }
  });

  // Without the script a dialog's form is a plain section of the page (its button links to
  // it); with it, the section moves into a <dialog>. A form re-rendered with errors
  // (data-open) opens again.
  function wrapDialogs() {
    document.querySelectorAll("section[data-dialog-id]").forEach(function (section) {
      if (section.parentElement.tagName === "DIALOG") return;
      var d = document.createElement("dialog");
      d.id = section.getAttribute("data-dialog-id");
      d.setAttribute("aria-labelledby", section.getAttribute("aria-labelledby"));
      section.parentElement.insertBefore(d, section);
      d.appendChild(section);
      if (section.hasAttribute("data-open")) openDialog(d.id);
    });
  }
  document.documentElement.classList.add("js");
  document.addEventListener("DOMContentLoaded", wrapDialogs);
  document.addEventListener("ladder:updated", wrapDialogs);

  // The Resolve form: above the person's authority the button reads "Request approval" and
  // says who approves (the server puts the limit and the approvers by range on the form).
  function amountMinor(text) {
    var m = /^\s*(\d+)(?:[.,](\d{1,2}))?\s*$/.exec(text || "");
    if (!m) return null;
    var cents = m[2] ? (m[2].length === 1 ? m[2] + "0" : m[2]) : "0";
    return parseInt(m[1], 10) * 100 + parseInt(cents, 10);
  }
  function approvalLabel(form) {
    var box = form.querySelector("[data-limit]");
    var button = form.querySelector("#resolve-submit");
    var note = form.querySelector("#res-approver");
    if (!box || !button || !note) return;
    var kind = form.elements.compensation ? form.elements.compensation.value : "none";
    var amount = amountMinor(form.elements.amount ? form.elements.amount.value : "");
    var limit = Number(box.getAttribute("data-limit"));
    var says = null;
    if (kind !== "none" && amount !== null && amount > limit) {
      JSON.parse(box.getAttribute("data-approvers") || "[]").forEach(function (r) {
        if (says === null && amount > r.above && (r.up_to === null || amount <= r.up_to)) says = r.says;
      });
    }
    button.textContent = says === null ? "Resolve" : "Request approval";
    note.textContent = says || "";
    note.hidden = says === null;
  }
  ["input", "change"].forEach(function (name) {
    document.addEventListener(name, function (ev) {
      var form = ev.target.form;
      if (form && form.id === "resolve") approvalLabel(form);
    });
  });

  // --- live updates -------------------------------------------------------------------
  var live = document.body.getAttribute("data-live");
  if (!live || typeof EventSource === "undefined") return;

  var pending = false, busy = false;

  function rows(root) {
    var out = {};
    root.querySelectorAll("tr[data-key]").forEach(function (tr) {
      out[tr.getAttribute("data-key")] = tr.getAttribute("data-v");
    });
    return out;
  }

  function busyEditing() {
    // Never swap the page under someone: an open dialog, or a form being typed into.
    if (document.querySelector("dialog[open]")) return true;
    var a = document.activeElement;
    return !!(a && typing(a) && a.value && a.form && a.form.method === "post");
  }

  function refresh() {
    if (busy) { pending = true; return; }
    if (busyEditing()) { pending = true; setTimeout(refresh, 1500); return; }
    busy = true; pending = false;
    fetch(location.href, { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) {
        if (!html) return;
        var doc = new DOMParser().parseFromString(html, "text/html");
        var fresh = doc.querySelector("main"), old = document.querySelector("main");
        if (!fresh || !old || busyEditing()) { pending = true; return; }
        var before = rows(old);
        // The message of the last post stays until the person moves on.
        var flash = old.querySelector("p.flash");
        fresh.querySelectorAll("p.flash").forEach(function (f) { f.remove(); });
        old.innerHTML = fresh.innerHTML;
        if (flash) old.insertBefore(flash, old.firstChild);
        // The rail keeps its elements (and focus); only its counts change.
        doc.querySelectorAll("[data-count]").forEach(function (c) {
          var mine = document.querySelector('[data-count="' + c.getAttribute("data-count") + '"]');
          if (mine) { mine.innerHTML = c.innerHTML; mine.className = c.className; }
        });
        old.querySelectorAll("tr[data-key]").forEach(function (tr) {
          if (before[tr.getAttribute("data-key")] !== tr.getAttribute("data-v")) tr.classList.add("fresh");
        });
        document.dispatchEvent(new CustomEvent("ladder:updated"));
      })
      .catch(function () { pending = true; })
      .finally(function () {
        busy = false;
        if (pending) setTimeout(refresh, 250);
      });
  }

  var source = new EventSource("/api/v1/stream");
  // Says on the page whether the live stream is connected (and lets tests wait for it).
  source.onopen = function () { document.body.setAttribute("data-stream", "open"); };
  source.onerror = function () { document.body.setAttribute("data-stream", "reconnecting"); };
  ["escalation.created", "escalation.acknowledged", "escalation.moved_up",
   "escalation.resolved", "escalation.de_escalated", "sla.reminder", "sla.breached",
   "approval.requested", "approval.decided", "ticket.updated", "ticket.created", "reset",
   "message"].forEach(function (name) {
    source.addEventListener(name, function (ev) {
      if (live === "ticket") {
        var here = document.body.getAttribute("data-ticket");
        try {
          var data = JSON.parse(ev.data);
          if (data && data.ticket_id && here && data.ticket_id !== here) return;
        } catch (e) { /* not JSON: refresh anyway */ }
      }
      refresh();
    });
  });
})();
