// The send page: live segment counter, price preview and background uploads.
// Every rule stays on the server: this script only asks /app/api/* and shows the answers.
"use strict";
(function () {
  const form = document.getElementById("send-form");
  if (!form) return;
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const $ = (id) => document.getElementById(id);
  const text = $("text"), recipients = $("recipients"), counter = $("counter");
  const price = $("price"), uploadId = $("upload_id"), file = $("file");
  const locale = price.dataset.locale;
  const num = new Intl.NumberFormat(locale);
  // a translated label from the page; "{n}" in it stands for a number
  const L = (el, key, n) => {
    const text = el.dataset["l" + key[0].toUpperCase() + key.slice(1)];
    return n === undefined ? text : text.replace("{n}", num.format(n));
  };

  async function api(path, body) {
    const init = { method: body === undefined ? "GET" : "POST", headers: { "X-CSRF-Token": csrf } };
    if (body instanceof FormData) init.body = body;
    else if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    const response = await fetch(path, init);
    const data = await response.json();
    if (!response.ok) throw new Error((data.error && data.error.message) || response.statusText);
    return data;
  }

  function debounce(fn, ms) {
    let timer = null;
    return () => { clearTimeout(timer); timer = setTimeout(fn, ms); };
  }

  let counted = 0;
  async function count() {
    const mine = ++counted;
    try {
      const c = await api("/app/api/segments", { text: text.value });
      if (mine !== counted) return;
      const max = Number(form.dataset.maxParts);
      let line = `${L(counter, "chars", c.characters)} · ${c.encoding === "gsm7" ? "GSM-7" : "UCS-2"} · ` +
        `${L(counter, "parts", c.parts)} · ${L(counter, "left", c.remaining)}`;
      if (c.parts > max) line += ` · ${L(counter, "toolong")}`;
      counter.textContent = line;
      counter.dataset.encoding = c.encoding;
      counter.dataset.parts = c.parts;
    } catch (e) { counter.textContent = e.message; }
  }

  function cell(row, value, cls) {
    const td = document.createElement(row.parentElement.tagName === "THEAD" ? "th" : "td");
    td.textContent = value;
    if (cls) td.className = cls;
    row.appendChild(td);
  }

  let quoted = 0;
  async function quote() {
    const mine = ++quoted;
    const table = $("price-table"), empty = $("price-empty"), bad = $("typed-invalid");
    const body = { text: text.value, recipients: uploadId.value ? "" : recipients.value,
                   upload_id: uploadId.value ? Number(uploadId.value) : null };
    try {
      const q = await api("/app/api/quote", body);
      if (mine !== quoted) return;
      bad.hidden = !q.invalid.length;
      bad.textContent = q.invalid.map((i) => `${i.number}: ${i.reason}`).join("; ");
      if (!q.lines.length) { table.hidden = true; empty.hidden = false; return; }
      const money = new Intl.NumberFormat(locale, { style: "currency", currency: q.currency, maximumFractionDigits: 6 });
      const [head, bodyEl, foot] = [table.tHead, table.tBodies[0], table.tFoot];
      head.innerHTML = bodyEl.innerHTML = foot.innerHTML = "";
      const h = head.insertRow();
      for (const k of ["dest", "numbers", "rate", "total"]) cell(h, L(price, k), k === "dest" ? "" : "num");
      for (const line of q.lines) {
        const r = bodyEl.insertRow();
        cell(r, line.destination); cell(r, num.format(line.numbers), "num");
        cell(r, money.format(line.rate), "num"); cell(r, money.format(line.total), "num");
      }
      if (Number(q.tax)) {
        const t = foot.insertRow();
        cell(t, L(price, "tax")); cell(t, ""); cell(t, ""); cell(t, money.format(q.tax), "num");
      }
      const t = foot.insertRow();
      cell(t, L(price, "total")); cell(t, num.format(q.numbers), "num"); cell(t, "");
      cell(t, money.format(q.total), "num num-total");
      table.hidden = false; empty.hidden = true;
      price.dataset.total = q.total;
    } catch (e) {
      if (mine !== quoted) return;
      table.hidden = true; empty.hidden = false; empty.textContent = e.message;
    }
  }

  function showUpload(u) {
    $("upload-status").hidden = false;
    $("upload-progress").value = u.progress;
    $("upload-text").textContent = u.error ? u.error :
      `${u.filename}: ${Math.round(u.progress * 100)}% ${L(price, "read")} · ${L(price, "rows", u.rows)} · ` +
      `${L(price, "valid", u.valid)} · ${L(price, "invalid", u.invalid)} · ${L(price, "dupes", u.duplicates)}`;
    const details = $("upload-invalid"), list = details.querySelector("ul");
    details.hidden = !u.invalid_sample.length;
    list.innerHTML = "";
    for (const i of u.invalid_sample) {
      const li = document.createElement("li");
      li.textContent = `#${i.row} ${i.number}: ${i.reason}`;
      list.appendChild(li);
    }
    $("upload-status").dataset.state = u.status;
  }

  async function upload() {
    if (!file.files.length) return;
    const data = new FormData();
    data.append("file", file.files[0]);
    uploadId.value = "";
    try {
      const started = await api("/app/api/uploads", data);
      for (;;) {
        const u = await api(`/app/api/uploads/${started.id}`);
        showUpload(u);
        if (u.status === "ready") { uploadId.value = u.id; recipients.disabled = true; quote(); return; }
        if (u.status === "failed") return;
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
    } catch (e) {
      showUpload({ progress: 0, error: e.message, invalid_sample: [], status: "failed" });
    }
  }

  $("upload-clear").addEventListener("click", () => {
    uploadId.value = ""; file.value = ""; recipients.disabled = false;
    $("upload-status").hidden = true; quote(); recipients.focus();
  });
  text.addEventListener("input", debounce(count, 150));
  text.addEventListener("input", debounce(quote, 400));
  recipients.addEventListener("input", debounce(quote, 400));
  file.addEventListener("change", upload);
  if (text.value) { count(); quote(); }
})();
