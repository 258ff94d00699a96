// The console's few behaviours: the venue display's rotating code, live counts, keyboard
// shortcuts for review, bulk selection, the audited ID reveal, confirmations.
// No inline script anywhere (the pages' Content-Security-Policy forbids it).
"use strict";

(function () {
  const csrf = () => {
    const meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.content : "";
  };

  // --- the venue display: the server derives the code; this fetches it when it turns ---
  function venueDisplay(root) {
    const url = root.dataset.codeUrl;
    const qr = root.querySelector("[data-qr]");
    const countdown = root.querySelector("[data-countdown]");
    const clock = root.querySelector("[data-clock]");
    let turnAt = Date.now() + Number(root.dataset.turnIn || 1) * 1000;
    let offset = 0; // server time minus this screen's time
    async function refresh() {
      try {
        const res = await fetch(url, { credentials: "same-origin", cache: "no-store" });
        if (!res.ok) throw new Error(String(res.status));
        const body = await res.json();
        qr.innerHTML = body.svg;
        offset = Date.parse(body.server_time) - Date.now();
        turnAt = Date.now() + body.seconds_until_turn * 1000;
        root.classList.remove("stale");
      } catch (e) {
        root.classList.add("stale");
        turnAt = Date.now() + 2000;
      }
      setTimeout(refresh, Math.max(250, turnAt - Date.now() + 150));
    }
    function tick() {
      const now = new Date(Date.now() + offset);
      clock.textContent = now.toLocaleTimeString("zh-CN", { hour12: false, timeZone: "Asia/Shanghai" });
      countdown.textContent = String(Math.max(0, Math.ceil((turnAt - Date.now()) / 1000)));
    }
    setTimeout(refresh, Math.max(250, turnAt - Date.now() + 150));
    setInterval(tick, 250);
  }

  // --- live counts: the table polls the JSON counts ---
  function liveCounts(table) {
    const url = table.dataset.liveCounts;
    const put = (row, count) => {
      if (!row) return;
      for (const key of ["expected", "checked_in", "not_yet", "by_static_code", "by_staff"]) {
        const cell = row.querySelector(`[data-field="${key}"]`);
        if (cell && count[key] !== undefined) cell.textContent = String(count[key]);
      }
    };
    async function poll() {
      try {
        const res = await fetch(url, { credentials: "same-origin", cache: "no-store" });
        if (res.ok) {
          const body = await res.json();
          put(table.querySelector('[data-count="total"]'), body.total);
          for (const r of body.regions) put(table.querySelector(`[data-count="region:${r.region_id}"]`), r);
        }
      } finally {
        setTimeout(poll, 3000);
      }
    }
    setTimeout(poll, 3000);
  }

  // --- the review queue: j/k to move, Enter to open, space to tick ---
  function queueKeys(table) {
    const rows = () => Array.from(table.querySelectorAll("tbody tr[data-href]"));
    let index = -1;
    const select = (i) => {
      const list = rows();
      if (!list.length) return;
      index = Math.max(0, Math.min(list.length - 1, i));
      list.forEach((r, n) => r.classList.toggle("current", n === index));
      list[index].scrollIntoView({ block: "nearest" });
    };
    document.addEventListener("keydown", (e) => {
      if (e.target.closest("input, select, textarea") || e.ctrlKey || e.metaKey || e.altKey) return;
      const list = rows();
      if (e.key === "j") { select(index + 1); e.preventDefault(); }
      else if (e.key === "k") { select(index - 1); e.preventDefault(); }
      else if (e.key === "Enter" && list[index]) { window.location.href = list[index].dataset.href; }
      else if (e.key === " " && list[index]) {
        const box = list[index].querySelector('input[type="checkbox"]');
        if (box) { box.checked = !box.checked; e.preventDefault(); }
      }
    });
  }

  // --- one-key shortcuts on a page: [data-shortcut] forms are submitted, links followed ---
  function shortcuts() {
    const marked = Array.from(document.querySelectorAll("[data-shortcut]"));
    if (!marked.length) return;
    document.addEventListener("keydown", (e) => {
      if (e.target.closest("input, select, textarea") || e.ctrlKey || e.metaKey || e.altKey) return;
      const target = marked.find((el) => el.dataset.shortcut === e.key.toLowerCase());
      if (!target) return;
      e.preventDefault();
      if (target.tagName === "A") { window.location.href = target.href; return; }
      const focus = target.querySelector("[data-focus-on]");
      if (focus) { focus.focus(); return; }
      target.requestSubmit();
    });
  }

  // --- bulk selection ---
  function selectAll(box) {
    box.addEventListener("change", () => {
      for (const other of document.querySelectorAll(`input[type="checkbox"][name="${box.dataset.selectAll}"]`)) {
        other.checked = box.checked;
      }
    });
  }

  // --- the audited reveal of an ID number ---
  function revealId(button) {
    button.addEventListener("click", async () => {
      const res = await fetch(button.dataset.revealId, { credentials: "same-origin", cache: "no-store" });
      if (!res.ok) { button.textContent = "无法查看"; return; }
      const body = await res.json();
      const span = document.querySelector("[data-id-number]");
      if (span) span.textContent = body.id_number;
      button.remove();
    });
  }

  // --- the sum of the ticked rows' amounts (finance confirms a transfer against it) ---
  function sumOfTicked(form) {
    const name = form.dataset.sum;
    const total = form.querySelector("[data-sum-total]");
    const boxes = () => Array.from(document.querySelectorAll(`input[type="checkbox"][name="${name}"][data-fen]`));
    const update = () => {
      const fen = boxes().filter((b) => b.checked).reduce((sum, b) => sum + Number(b.dataset.fen), 0);
      total.textContent = (fen / 100).toFixed(2);
    };
    document.addEventListener("change", (e) => {
      if (e.target.matches(`input[type="checkbox"][name="${name}"], [data-select-all="${name}"]`)) update();
    });
    update();
  }

  // --- a file sent as the body of a JSON API call (the invoice import), its answer shown ---
  function upload(form) {
    const out = form.parentElement.querySelector("[data-upload-result]");
    const cell = (row, text) => { const td = document.createElement("td"); td.textContent = text; row.appendChild(td); };
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      const file = form.querySelector('input[type="file"]').files[0];
      if (!file) return;
      out.textContent = "正在导入…";
      try {
        const res = await fetch(form.dataset.upload, {
          method: "POST",
          credentials: "same-origin",
          headers: { "X-CSRF-Token": csrf(), "Content-Type": file.type || "application/octet-stream" },
          body: file,
        });
        const body = await res.json();
        out.textContent = "";
        if (!res.ok) {
          const p = document.createElement("p"); p.className = "error"; p.setAttribute("role", "alert");
          p.textContent = body.message || "导入失败"; out.appendChild(p); return;
        }
        const p = document.createElement("p"); p.className = "notice"; p.setAttribute("role", "status");
        p.textContent = `已登记 ${body.issued} 张；未登记 ${body.not_recorded} 行。`;
        out.appendChild(p);
        const table = document.createElement("table");
        const head = table.createTHead().insertRow();
        for (const h of ["行", "发票流水号", "发票号码", "结果"]) { const th = document.createElement("th"); th.textContent = h; head.appendChild(th); }
        const tbody = table.createTBody();
        for (const r of body.rows) { const tr = tbody.insertRow(); cell(tr, r.row); cell(tr, r.serial); cell(tr, r.number); cell(tr, r.message); }
        for (const r of body.problems) { const tr = tbody.insertRow(); cell(tr, r.row); cell(tr, r.serial || ""); cell(tr, ""); cell(tr, r.messages.join("；")); }
        out.appendChild(table);
      } catch (err) {
        out.textContent = "导入失败，请重试";
      }
    });
  }

  function confirmations(form) {
    form.addEventListener("submit", (e) => {
      if (!window.confirm(form.dataset.confirm)) e.preventDefault();
    });
  }

  document.addEventListener("DOMContentLoaded", () => {
    const display = document.querySelector("[data-code-url]");
    if (display) venueDisplay(display);
    for (const t of document.querySelectorAll("[data-live-counts]")) liveCounts(t);
    for (const t of document.querySelectorAll('[data-keyboard="queue"]')) queueKeys(t);
    for (const b of document.querySelectorAll("[data-select-all]")) selectAll(b);
    for (const b of document.querySelectorAll("[data-reveal-id]")) revealId(b);
    for (const f of document.querySelectorAll("form[data-confirm]")) confirmations(f);
    for (const f of document.querySelectorAll("form[data-sum]")) sumOfTicked(f);
    for (const f of document.querySelectorAll("form[data-upload]")) upload(f);
    shortcuts();
  });
})();
