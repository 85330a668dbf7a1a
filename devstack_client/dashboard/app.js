// @ts-check
/**
 * The example dashboard: plain DOM on the typed client (clients/typescript), no build step.
 *
 * JavaScript with JSDoc types, checked by `tsc` against the client's source and the types generated from the
 * OpenAPI document (clients/typescript/tsconfig.dashboard.json): a field the API does not have fails CI.
 */
import { ApiError, createClient, pages, serverEvents } from "@devstack-client/client";

/** @typedef {import("@devstack-client/client").Server} Server */
/** @typedef {import("@devstack-client/client").Schemas} Schemas */
/** @typedef {import("@devstack-client/client").Credentials} Credentials */
/** @typedef {import("@devstack-client/client").ApiErrorBody} ApiErrorBody */
/** @typedef {Schemas["ServerCreate"]} ServerCreate */

const STORAGE_KEY = "devstack-client.credentials";
// The gateway's root: the page is served at <root>/dashboard/, so this works behind a path prefix too.
const BASE_URL = new URL("..", document.baseURI).href.replace(/\/$/, "");
const DRY_RUN_DELAY_MS = 300; // after the last keystroke
const RETRY_MS = 5000; // after the event stream failed

/** @template {Element} [T=HTMLElement] @param {string} selector @returns {T} */
function $(selector) {
  const element = document.querySelector(selector);
  if (element === null) throw new Error(`no ${selector} in index.html`);
  return /** @type {T} */ (element);
}

/** @type {Credentials} */
let credentials = readCredentials();
let client = createClient({ baseUrl: BASE_URL, ...credentials });
let session = new AbortController(); // aborted on sign-in and sign-out: ends the stream of the old credentials
/** @type {Map<string, Server>} */
const servers = new Map();
/** @type {Map<string, string>} image id → name, from the image picker's list (a server names only the id) */
const imageNames = new Map();

/** @returns {Credentials} */
function readCredentials() {
  try {
    const stored = JSON.parse(sessionStorage.getItem(STORAGE_KEY) ?? "{}");
    if (typeof stored.apiKey === "string") return { apiKey: stored.apiKey };
    if (typeof stored.token === "string") return { token: stored.token };
  } catch {
    // nothing usable stored
  }
  return {};
}

// ------------------------------------------------------------------------------------------- errors

/**
 * The data of an openapi-fetch answer, or an ApiError carrying the gateway's `code` and `message`.
 * @template T
 * @param {{ data?: T, error?: unknown, response: Response }} result
 * @returns {T}
 */
function ok({ data, error, response }) {
  if (response.ok) return /** @type {T} */ (data);
  throw new ApiError(response.status, errorBody(error, response));
}

/** @param {unknown} error @param {Response} response @returns {ApiErrorBody} */
function errorBody(error, response) {
  if (typeof error === "object" && error !== null && "code" in error && "message" in error) {
    return { code: String(error.code), message: String(error.message) };
  }
  // not the gateway's JSON (a proxy's page): say what we can
  return { code: "unknown", message: `HTTP ${response.status} ${response.statusText}` };
}

/** Whether another key or token would help: none sent or not known (401), or a reader key writing. */
function wantsCredentials(/** @type {unknown} */ error) {
  return error instanceof ApiError && (error.status === 401 || error.code === "forbidden_role");
}

/** Show an error's `message` (what the gateway says, as it says it); ask for a key or token if that helps. */
function report(/** @type {string} */ what, /** @type {unknown} */ error) {
  const message = error instanceof Error ? error.message : String(error);
  if (wantsCredentials(error)) return askCredentials(message); // the dialog says why
  const item = document.createElement("li");
  item.className = "error";
  item.textContent = `${what}: ${message}`;
  const list = $("#messages");
  list.prepend(item);
  while (list.children.length > 5) list.lastElementChild?.remove();
}

// -------------------------------------------------------------------------------------- credentials

function askCredentials(/** @type {string} */ reason) {
  /** @type {HTMLDialogElement} */
  const dialog = $("#login");
  $("#login-reason").textContent = reason;
  if (!dialog.open) dialog.showModal();
}

$("#login").addEventListener("close", () => {
  /** @type {HTMLDialogElement} */
  const dialog = $("#login");
  if (dialog.returnValue !== "use") return; // closed with Escape: nothing new to try
  dialog.returnValue = "";
  /** @type {HTMLFormElement} */
  const form = $("#login form");
  const secret = String(new FormData(form).get("secret") ?? "").trim();
  if (!secret) return;
  credentials = new FormData(form).get("kind") === "token" ? { token: secret } : { apiKey: secret };
  sessionStorage.setItem(STORAGE_KEY, JSON.stringify(credentials));
  form.reset();
  start();
});

$("#sign-out").addEventListener("click", () => {
  sessionStorage.removeItem(STORAGE_KEY);
  credentials = {};
  start();
});

// ------------------------------------------------------------------------------------ live server list

/** Follow the server change stream: every server first (`added` … `synced`), then each change as it happens. */
async function follow(/** @type {AbortSignal} */ signal) {
  for (;;) {
    /** @type {Set<string>} */
    const listed = new Set(); // the servers of this (re)start's initial burst: any other one is gone
    let synced = false;
    setStreamState("connecting…", false);
    try {
      /** @param {"open" | "reconnecting"} status */
      const onStatus = (status) => {
        // The client resumes by itself when the gateway ends the stream (a worker stopping): say so meanwhile.
        if (status === "reconnecting") setStreamState("reconnecting…", false);
        else if (synced) setStreamState("live", true);
      };
      const options = { baseUrl: BASE_URL, ...credentials, query: { initial: true }, signal, onStatus };
      for await (const change of serverEvents(options)) {
        if (change.event === "added" || change.event === "modified") {
          listed.add(change.data.id);
          servers.set(change.data.id, change.data);
          if (change.event === "added" && synced) refreshLimits(); // a new server: less headroom
        } else if (change.event === "deleted") {
          servers.delete(change.data.id);
          refreshLimits();
        } else if (change.event === "synced") {
          for (const id of servers.keys()) if (!listed.has(id)) servers.delete(id);
          synced = true;
          setStreamState("live", true);
        } else if (change.event === "expired") {
          break; // start over with a fresh list
        }
        renderServers();
      }
    } catch (error) {
      if (signal.aborted) return;
      if (wantsCredentials(error)) return report("Server list", error);
      setStreamState(`reconnecting: ${error instanceof Error ? error.message : error}`, false);
      await new Promise((resolve) => setTimeout(resolve, RETRY_MS));
    }
    if (signal.aborted) return;
  }
}

function setStreamState(/** @type {string} */ text, /** @type {boolean} */ live) {
  const state = $("#stream-state");
  state.textContent = text;
  state.classList.toggle("live", live);
}

function renderServers() {
  /** @type {HTMLTableSectionElement} */
  const body = $("#servers tbody");
  const sorted = [...servers.values()].sort((a, b) => (a.name ?? "").localeCompare(b.name ?? ""));
  body.replaceChildren(...sorted.map(serverRow));
  $("#no-servers").hidden = servers.size > 0 || !$("#stream-state").classList.contains("live");
}

function serverRow(/** @type {Server} */ server) {
  const row = document.createElement("tr");
  row.dataset.id = server.id;
  row.dataset.name = server.name ?? "";
  const status = document.createElement("span");
  status.className = "status";
  status.dataset.status = server.status;
  status.textContent = server.status + (server.task_state ? ` (${server.task_state})` : "");
  if (server.fault) status.title = server.fault.message;
  const addresses = Object.values(server.addresses).flatMap((list) => list.map((address) => address.addr));
  row.append(
    cell(server.name ?? server.id),
    cell(status),
    cell(server.flavor.name ?? ""),
    cell(server.image ? (imageNames.get(server.image.id) ?? server.image.id) : "(volume)"),
    cell(addresses.join(", ")),
    cell(...["start", "stop", "reboot", "delete"].map((action) => actionButton(server, action))),
  );
  return row;
}

/** @param {(Node | string)[]} children */
function cell(...children) {
  const td = document.createElement("td");
  td.append(...children);
  return td;
}

function actionButton(/** @type {Server} */ server, /** @type {string} */ action) {
  const button = document.createElement("button");
  button.type = "button";
  button.textContent = action[0]?.toUpperCase() + action.slice(1);
  button.dataset.action = action;
  button.addEventListener("click", () => act(server, action));
  return button;
}

/** Start, stop, reboot or delete: the change itself shows in the list from the event stream. */
async function act(/** @type {Server} */ server, /** @type {string} */ action) {
  const name = server.name ?? server.id;
  const path = { ref: server.id };
  try {
    if (action === "delete") {
      if (!confirm(`Delete ${name}?`)) return;
      ok(await client.DELETE("/api/v1/server/{ref}", { params: { path } }));
    } else if (action === "start" || action === "stop" || action === "reboot") {
      ok(await client.POST("/api/v1/server/{ref}/action", { params: { path }, body: { action } }));
    }
  } catch (error) {
    report(`${action} ${name}`, error);
  }
}

// ------------------------------------------------------------------------------------- create form

/** @type {HTMLFormElement} */
const form = $("#create");
let dryRuns = 0; // only the latest dry run's answer is shown
/** @type {ReturnType<typeof setTimeout> | undefined} */
let dryRunTimer;

/** @returns {ServerCreate} */
function formBody() {
  const value = (/** @type {string} */ field) => String(new FormData(form).get(field) ?? "").trim();
  /** @type {ServerCreate} */
  const body = { name: value("name") };
  // An empty field is left out, so that the gateway says which is missing rather than that it is empty.
  if (value("image")) body.image = value("image");
  if (value("flavor")) body.flavor = value("flavor");
  if (value("network")) body.network = value("network");
  return body;
}

form.addEventListener("input", () => {
  clearTimeout(dryRunTimer);
  dryRunTimer = setTimeout(dryRun, DRY_RUN_DELAY_MS);
});

/** Validate the form with the gateway (the create's own checks, image, flavor, network and quota), creating nothing. */
async function dryRun() {
  const mine = ++dryRuns;
  const result = await client.POST("/api/v1/server/dry-run", { body: formBody() }).catch((error) => error);
  if (mine !== dryRuns) return; // the user typed on meanwhile
  const line = $("#dry-run");
  showFieldErrors(result instanceof Error ? undefined : result.error);
  try {
    if (result instanceof Error) throw result;
    const plan = ok(result).server;
    line.className = "ok";
    line.textContent =
      `OK: ${plan.name} would be a ${plan.flavor.name} (${plan.flavor.vcpus} vCPU, ${plan.flavor.ram} MiB) ` +
      `of ${plan.image.name ?? plan.image.id} on ${plan.network.name ?? plan.network.id}.`;
  } catch (error) {
    if (wantsCredentials(error)) return report("Check", error);
    line.className = "error";
    line.textContent = error instanceof Error ? error.message : String(error);
  }
}

/** Each bad field's message next to its input (a 400 `invalid_request` lists them in `errors`). */
function showFieldErrors(/** @type {unknown} */ error) {
  /** @type {Map<string, string>} */
  const messages = new Map();
  if (typeof error === "object" && error !== null && "errors" in error && Array.isArray(error.errors)) {
    for (const item of error.errors) messages.set(String(item.field), String(item.message));
  }
  for (const span of document.querySelectorAll("#create .field-error")) {
    if (!(span instanceof HTMLElement)) continue;
    const field = span.dataset.for ?? "";
    span.textContent = messages.get(field) ?? messages.get(`${field}_id`) ?? "";
  }
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  clearTimeout(dryRunTimer);
  const button = form.querySelector("button");
  if (button) button.disabled = true; // one click, one server
  try {
    const server = ok(await client.POST("/api/v1/server", { body: formBody() }));
    $("#dry-run").className = "ok";
    $("#dry-run").textContent = `Creating ${server.name ?? server.id}: its status follows in the list.`;
    /** @type {HTMLInputElement} */ (form.elements.namedItem("name")).value = "";
  } catch (error) {
    report("Create", error);
  } finally {
    if (button) button.disabled = false;
  }
});

/** The image, flavor and network pickers: every item of each list, page after page. */
async function loadPickers() {
  /** @param {string} id @param {{ id: string, name: string }[]} items */
  const fill = (id, items) =>
    $(`#${id}`).replaceChildren(
      ...items.map((item) => {
        const option = document.createElement("option");
        option.value = item.name || item.id;
        option.label = item.id;
        return option;
      }),
    );
  /** @template T @param {AsyncIterable<T>} iterable */
  const all = async (iterable) => {
    /** @type {T[]} */
    const items = [];
    for await (const item of iterable) items.push(item);
    return items;
  };
  const query = (/** @type {string | undefined} */ marker) => ({ params: { query: { marker } } });
  try {
    const [images, flavors, networks] = await Promise.all([
      all(pages("images", (marker) => client.GET("/api/v1/image", query(marker)))),
      all(pages("flavors", (marker) => client.GET("/api/v1/flavor", query(marker)))),
      all(pages("networks", (marker) => client.GET("/api/v1/network", query(marker)))),
    ]);
    fill("images", images);
    for (const image of images) imageNames.set(image.id, image.name);
    renderServers();
    fill("flavors", flavors);
    fill("networks", networks);
  } catch (error) {
    report("Pickers", error);
  }
}

// ------------------------------------------------------------------------------------- quota headroom

/** @type {ReturnType<typeof setTimeout> | undefined} */
let limitsTimer;

/** Reread the quota soon: a burst of events makes one call. */
function refreshLimits() {
  clearTimeout(limitsTimer);
  limitsTimer = setTimeout(loadLimits, 1000);
}

async function loadLimits() {
  try {
    const { limits, headroom } = ok(await client.GET("/api/v1/limits"));
    const usage = (/** @type {Schemas["Limit"]} */ limit) => `${limit.used ?? "?"} of ${limit.max ?? "∞"}`;
    $("#quota").className = "";
    $("#quota").textContent =
      `Servers ${usage(limits.instances)}, vCPUs ${usage(limits.cores)}, RAM ${usage(limits.ram)} MiB used.`;
    $("#headroom tbody").replaceChildren(
      ...headroom.map((row) => {
        const tr = document.createElement("tr");
        tr.dataset.flavor = row.flavor_name;
        tr.append(
          cell(row.flavor_name),
          cell(String(row.vcpus)),
          cell(String(row.ram)),
          cell(row.fits === null ? "∞" : String(row.fits)),
          cell(row.limited_by ?? ""),
        );
        return tr;
      }),
    );
  } catch (error) {
    $("#quota").className = "error";
    $("#quota").textContent = error instanceof Error ? error.message : String(error);
    if (wantsCredentials(error)) report("Quota", error);
  }
}

// -------------------------------------------------------------------------------------------- start

function start() {
  session.abort();
  session = new AbortController();
  client = createClient({ baseUrl: BASE_URL, ...credentials });
  $("#sign-out").hidden = !(credentials.apiKey || credentials.token);
  servers.clear();
  renderServers();
  $("#quota").className = "muted";
  $("#quota").textContent = "…";
  loadPickers();
  loadLimits();
  follow(session.signal);
}

start();
