// The support console: plain JavaScript over the public API, with the key the user signs in
// with. Everything shown is put in the page with textContent, never as HTML, so nothing a player
// or a client wrote (a username, a description, metadata) can run as script here.
"use strict";

const keyStorage = "dino-wallet.console.api-key";
const historyPageSize = 10;
const reversibleTypes = new Set(["TOPUP", "BONUS", "SPEND", "TRANSFER", "TRANSACTION"]);
const byId = (id) => document.getElementById(id);

/** An answer of the API that is not a success: its JSON error body's code and message. */
class ApiError extends Error {
  constructor(status, body) {
    super(body && typeof body.message === "string" ? body.message : `HTTP ${status}`);
    this.status = status;
    this.code = body && typeof body.code === "string" ? body.code : `HTTP_${status}`;
  }
}

const state = {
  apiKey: null,
  caller: null,
  player: null,
  // Cursors of the history pages seen: [null] is the newest page; the last is the one shown.
  historyCursors: [null],
  historyNext: null,
  // One idempotency key per form until the API answers, so a retry after a lost answer (a
  // network error) cannot apply twice.
  pendingKeys: new Map()
};

const api = async (method, path, body) => {
  const headers = { authorization: `Bearer ${state.apiKey}` };
  if (body !== undefined) headers["content-type"] = "application/json";
  const response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await response.text();
  let parsed = null;
  try {
    parsed = text === "" ? null : JSON.parse(text);
  } catch {
    parsed = null;
  }
  if (!response.ok) throw new ApiError(response.status, parsed);
  return parsed;
};

/** A UUID v4 from getRandomValues, which (unlike randomUUID) also works on a plain-HTTP origin. */
const newIdempotencyKey = () => {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  bytes[6] = (bytes[6] & 0x0f) | 0x40;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
};

const keyFor = (form) => {
  if (!state.pendingKeys.has(form)) state.pendingKeys.set(form, `console-${newIdempotencyKey()}`);
  return state.pendingKeys.get(form);
};

/** Runs a request of a form; an answer (success or refusal) frees its idempotency key, a network error keeps it. */
const answered = (form, error) => {
  if (error === undefined || error instanceof ApiError) state.pendingKeys.delete(form);
};

const el = (tag, props = {}, ...children) => {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(props)) {
    if (name === "className") node.className = value;
    else if (name === "onclick") node.addEventListener("click", value);
    else node.setAttribute(name, value);
  }
  for (const child of children) node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  return node;
};

const formatAmount = (n) => Number(n).toLocaleString("en-US");
const formatTime = (iso) => iso.replace("T", " ").replace(/\.\d+Z$/, " UTC").replace(/Z$/, " UTC");

let noticeTimer;
const notify = (text, kind = "ok") => {
  const notice = byId("notice");
  notice.textContent = text;
  notice.className = kind === "error" ? "notice error" : "notice";
  notice.hidden = false;
  clearTimeout(noticeTimer);
  if (kind !== "error") noticeTimer = setTimeout(() => { notice.hidden = true; }, 8000);
};
const notifyError = (error) =>
  notify(error instanceof ApiError ? `${error.code}: ${error.message}` : `The service did not answer (${error.message})`, "error");

const canWrite = () => state.caller !== null && state.caller.scopes.some((s) => s === "write" || s === "admin");

// --- Signing in and out -------------------------------------------------------------------

const showSignedIn = () => {
  byId("sign-in").hidden = true;
  byId("workspace").hidden = false;
  byId("session").hidden = false;
  byId("key-name").textContent = state.caller.name;
  byId("key-scopes").replaceChildren(...state.caller.scopes.map((s) => el("span", { className: "scope" }, s)));
  // Without the write scope the page has no write button at all, rather than buttons that fail.
  byId("grant").hidden = !canWrite();
};

const showSignedOut = () => {
  state.apiKey = null;
  state.caller = null;
  state.player = null;
  byId("sign-in").hidden = false;
  byId("workspace").hidden = true;
  byId("session").hidden = true;
  byId("player").hidden = true;
  byId("api-key").value = "";
  byId("api-key").focus();
};

const signIn = async (apiKey) => {
  state.apiKey = apiKey;
  try {
    state.caller = await api("GET", "/api/auth/whoami");
  } catch (error) {
    state.apiKey = null;
    throw error;
  }
  sessionStorage.setItem(keyStorage, apiKey);
  showSignedIn();
  await loadAssets();
};

const loadAssets = async () => {
  const select = byId("grant-asset");
  try {
    const { assets } = await api("GET", "/api/assets");
    select.replaceChildren(...assets.map((a) => el("option", { value: a.code }, `${a.name} (${a.code})`)));
  } catch (error) {
    notifyError(error);
  }
};

// --- The player -------------------------------------------------------------------------

const findPlayer = async (query) => {
  const text = query.trim();
  const profile = /^\d+$/.test(text)
    ? await api("GET", `/api/users/${text}`)
    : await api("GET", `/api/users?username=${encodeURIComponent(text)}`);
  state.player = profile;
  state.historyCursors = [null];
  byId("transaction").hidden = true;
  byId("player").hidden = false;
  byId("player-title").textContent = `Player #${profile.userId} · ${profile.username}`;
  byId("player-meta").textContent = `${profile.kind === "SYSTEM" ? "System account" : "Player"}, registered ${formatTime(profile.createdAt)}`;
  await Promise.all([loadBalances(), loadHolds(), loadHistory()]);
};

const loadBalances = async () => {
  const { balances } = await api("GET", `/api/wallets/${state.player.userId}/balance`);
  const rows = balances.map((b) =>
    el("tr", { "data-asset": b.assetCode },
      el("td", {}, b.assetCode),
      el("td", { className: "num balance" }, formatAmount(b.balance)),
      el("td", { className: "num held" }, formatAmount(b.held))));
  byId("balances").tBodies[0].replaceChildren(...rows);
};

const loadHolds = async () => {
  const { items } = await api("GET", `/api/holds?userId=${state.player.userId}&limit=20`);
  const rows = items.map((hold) =>
    el("tr", { "data-hold": hold.holdId },
      el("td", {}, formatTime(hold.createdAt)),
      el("td", {}, hold.assetCode),
      el("td", { className: "num" }, formatAmount(hold.amount)),
      el("td", { className: "status" }, hold.status),
      el("td", {}, formatTime(hold.expiresAt)),
      el("td", {}, el("button", {
        type: "button",
        className: "link",
        title: hold.holdId,
        onclick: () => showHold(hold.holdId).catch(notifyError)
      }, hold.holdId.slice(0, 8)))));
  if (rows.length === 0) rows.push(el("tr", { className: "empty" }, el("td", { colspan: "6" }, "No holds")));
  byId("holds").tBodies[0].replaceChildren(...rows);
};

const loadHistory = async () => {
  const cursor = state.historyCursors[state.historyCursors.length - 1];
  const query = new URLSearchParams({ limit: String(historyPageSize) });
  if (cursor !== null) query.set("cursor", cursor);
  const page = await api("GET", `/api/wallets/${state.player.userId}/transactions?${query}`);
  state.historyNext = page.nextCursor;
  const rows = page.items.map((item) => {
    const sign = item.entryType === "CREDIT" ? "+" : "−";
    return el("tr", {},
      el("td", {}, formatTime(item.createdAt)),
      el("td", {}, item.type),
      el("td", {}, item.assetCode),
      el("td", { className: `num ${item.entryType === "CREDIT" ? "credit" : "debit"}` }, `${sign}${formatAmount(item.amount)}`),
      el("td", { className: "num" }, formatAmount(item.balanceAfter)),
      el("td", {}, item.metadata && item.metadata.reason ? item.metadata.reason : item.description ?? ""),
      el("td", {}, el("button", {
        type: "button",
        className: "link",
        title: item.transactionId,
        onclick: () => openTransaction(item.transactionId).catch(notifyError)
      }, item.transactionId.slice(0, 8))));
  });
  if (rows.length === 0) rows.push(el("tr", { className: "empty" }, el("td", { colspan: "7" }, "No entries")));
  byId("history").tBodies[0].replaceChildren(...rows);
  byId("history-page").textContent = `Page ${state.historyCursors.length}, newest first`;
  byId("history-older").disabled = page.nextCursor === null;
  byId("history-first").disabled = state.historyCursors.length === 1;
};

const refreshPlayer = () => Promise.all([loadBalances(), loadHolds(), loadHistory()]);

// --- A transaction ----------------------------------------------------------------------

const fields = (target, pairs) =>
  target.replaceChildren(...pairs.flatMap(([name, value]) => [el("dt", {}, name), el("dd", {}, value)]));

const openTransaction = async (transactionId) => {
  const tx = await api("GET", `/api/transactions/${encodeURIComponent(transactionId)}`);
  state.transaction = tx;
  const metadata = Object.entries(tx.metadata ?? {}).map(([k, v]) => `${k}: ${v}`).join(", ");
  fields(byId("transaction-fields"), [
    ["Id", tx.transactionId],
    ["Type", tx.type],
    ["Created", formatTime(tx.createdAt)],
    ["Description", tx.description ?? "—"],
    ["Metadata", metadata === "" ? "—" : metadata],
    ["Written by key", tx.createdBy ?? "— (ADMIN_API_KEY or the seed)"],
    ["Reverses", tx.reverses ?? "—"],
    ["Reversed by", tx.reversedBy.length === 0 ? "—" : tx.reversedBy.join(", ")]
  ]);
  byId("transaction-legs").tBodies[0].replaceChildren(...tx.legs.map((leg, i) =>
    el("tr", {},
      el("td", {}, i),
      el("td", {}, leg.fromUserId),
      el("td", {}, leg.toUserId),
      el("td", {}, leg.assetCode),
      el("td", { className: "num" }, formatAmount(leg.amount)))));
  byId("transaction-entries").tBodies[0].replaceChildren(...tx.entries.map((entry) =>
    el("tr", {},
      el("td", {}, entry.entryId),
      el("td", {}, entry.userId),
      el("td", {}, entry.assetCode),
      el("td", { className: entry.entryType === "CREDIT" ? "credit" : "debit" }, entry.entryType),
      el("td", { className: "num" }, formatAmount(entry.amount)),
      el("td", { className: "num" }, formatAmount(entry.balanceAfter)))));
  byId("reverse-form").hidden = !(canWrite() && reversibleTypes.has(tx.type));
  byId("reverse-reason").value = "";
  byId("reverse-debt").checked = false;
  byId("player").hidden = state.player === null;
  byId("transaction").hidden = false;
  byId("transaction").scrollIntoView({ block: "nearest" });
};

// --- Writes -----------------------------------------------------------------------------

const submitting = async (form, button, work) => {
  button.disabled = true;
  let failure;
  try {
    await work();
  } catch (error) {
    failure = error;
    notifyError(error);
  } finally {
    answered(form, failure);
    button.disabled = false;
  }
};

const grantBonus = async (form) => {
  const amountText = byId("grant-amount").value.trim();
  const amount = Number(amountText);
  const reason = byId("grant-reason").value.trim();
  if (!/^\d+$/.test(amountText) || !Number.isSafeInteger(amount) || amount < 1) {
    notify("The amount is a whole number of at least 1.", "error");
    return;
  }
  if (reason === "") {
    notify("A reason is required: it is kept with the transaction.", "error");
    return;
  }
  await submitting(form, byId("grant-submit"), async () => {
    const receipt = await api("POST", "/api/wallets/bonus", {
      userId: state.player.userId,
      assetCode: byId("grant-asset").value,
      amount,
      idempotencyKey: keyFor(form),
      metadata: { reason, source: "support-console" }
    });
    form.reset();
    notify(`Granted ${formatAmount(receipt.amount)} ${receipt.assetCode}: the balance is now ${formatAmount(receipt.balance)}.`);
    state.historyCursors = [null];
    await refreshPlayer();
  });
};

const reverseTransaction = async (form) => {
  const reason = byId("reverse-reason").value.trim();
  if (reason === "") {
    notify("A reason is required: it is kept with the reversal.", "error");
    return;
  }
  const tx = state.transaction;
  await submitting(form, byId("reverse-submit"), async () => {
    const receipt = await api("POST", `/api/transactions/${tx.transactionId}/reversal`, {
      idempotencyKey: keyFor(form),
      allowDebt: byId("reverse-debt").checked,
      metadata: { reason, source: "support-console" }
    });
    notify(`Reversed: transaction ${receipt.transactionId} mirrors ${receipt.legs.length} leg(s).`);
    if (state.player !== null) {
      state.historyCursors = [null];
      await refreshPlayer();
    }
    await openTransaction(tx.transactionId);
  });
};

const showHold = async (holdId) => {
  const hold = await api("GET", `/api/holds/${encodeURIComponent(holdId)}`);
  const target = byId("hold-fields");
  fields(target, [
    ["Hold", hold.holdId],
    ["Status", hold.status],
    ["Player", hold.userId],
    ["Amount", `${formatAmount(hold.amount)} ${hold.assetCode}`],
    ["Captured", formatAmount(hold.capturedAmount)],
    ["Expires", formatTime(hold.expiresAt)],
    ["Settled", hold.settledAt === null ? "—" : formatTime(hold.settledAt)]
  ]);
  target.hidden = false;
};

// --- Wiring -----------------------------------------------------------------------------

const onSubmit = (id, handler) =>
  byId(id).addEventListener("submit", (event) => {
    event.preventDefault();
    handler(event.currentTarget).catch(notifyError);
  });

document.addEventListener("DOMContentLoaded", () => {
  onSubmit("sign-in-form", async () => {
    const key = byId("api-key").value.trim();
    if (key === "") return notify("Enter an API key.", "error");
    try {
      await signIn(key);
      byId("notice").hidden = true;
      byId("player-query").focus();
    } catch (error) {
      if (error instanceof ApiError && error.status === 401) notify("This API key is not valid (unknown or revoked).", "error");
      else throw error;
    }
  });
  byId("sign-out").addEventListener("click", () => {
    sessionStorage.removeItem(keyStorage);
    showSignedOut();
    notify("Signed out: the key is forgotten.");
  });
  onSubmit("find-form", async () => {
    const query = byId("player-query").value;
    if (query.trim() === "") return notify("Enter a player id or a username.", "error");
    await findPlayer(query);
  });
  byId("refresh").addEventListener("click", () => refreshPlayer().catch(notifyError));
  byId("history-older").addEventListener("click", () => {
    if (state.historyNext === null) return;
    state.historyCursors.push(state.historyNext);
    loadHistory().catch(notifyError);
  });
  byId("history-first").addEventListener("click", () => {
    state.historyCursors = [null];
    loadHistory().catch(notifyError);
  });
  byId("transaction-close").addEventListener("click", () => { byId("transaction").hidden = true; });
  onSubmit("grant-form", grantBonus);
  onSubmit("reverse-form", reverseTransaction);
  onSubmit("hold-form", async () => {
    const holdId = byId("hold-id").value.trim();
    if (holdId !== "") await showHold(holdId);
  });
  onSubmit("transaction-form", async () => {
    const transactionId = byId("transaction-id").value.trim();
    if (transactionId !== "") await openTransaction(transactionId);
  });

  const saved = sessionStorage.getItem(keyStorage);
  if (saved === null) return showSignedOut();
  signIn(saved).catch((error) => {
    sessionStorage.removeItem(keyStorage);
    showSignedOut();
    notifyError(error);
  });
});
