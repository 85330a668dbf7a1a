// The helpers at run time (node --test, on the built dist/): paging, the event stream, credentials.
import assert from "node:assert/strict";
import { test } from "node:test";

import { ApiError, createClient, pages, serverEvents } from "../dist/index.js";

const json = (body, status = 200) =>
  new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });

test("pages follows next_marker to the last page", async () => {
  const asked = [];
  const page = async (marker) => {
    asked.push(marker);
    const data = marker === undefined ? { items: [1, 2], next_marker: "2" } : { items: [3], next_marker: null };
    return { data, response: json(data) };
  };
  const items = [];
  for await (const item of pages("items", page)) items.push(item);
  assert.deepEqual(items, [1, 2, 3]);
  assert.deepEqual(asked, [undefined, "2"]);
});

test("pages throws an error answer as an ApiError", async () => {
  const error = { code: "invalid_request", message: "Invalid query: limit must be a whole number." };
  const page = async () => ({ error, response: json(error, 400) });
  await assert.rejects(
    async () => {
      for await (const _ of pages("items", page));
    },
    (e) => e instanceof ApiError && e.status === 400 && e.code === "invalid_request" && e.message === error.message,
  );
});

test("the client sends the API key on every call", async () => {
  const seen = [];
  const fetch = async (request) => {
    seen.push([request.url, request.headers.get("Authorization")]);
    return json({ flavors: [], next_marker: null });
  };
  const client = createClient({ baseUrl: "http://gw.test", apiKey: "k1", fetch });
  const { data } = await client.GET("/api/v1/flavor", { params: { query: { limit: 5 } } });
  assert.deepEqual(data, { flavors: [], next_marker: null });
  assert.deepEqual(seen, [["http://gw.test/api/v1/flavor?limit=5", "Bearer k1"]]);
});

function stream(text, size) {
  const bytes = new TextEncoder().encode(text);
  return new ReadableStream({
    start(controller) {
      for (let at = 0; at < bytes.length; at += size) controller.enqueue(bytes.slice(at, at + size));
      controller.close();
    },
  });
}

const SERVER = { id: "s1", name: "web-1", status: "ACTIVE", task_state: null };
const FIRST = [
  "retry: 5\n\n",
  `event: added\ndata: ${JSON.stringify(SERVER)}\n\n`,
  'id: 100\nevent: synced\ndata: {"servers":1}\n\n',
  ": heartbeat\n\n",
  `id: 101.a\nevent: modified\ndata: ${JSON.stringify({ ...SERVER, status: "SHUTOFF" })}\n\n`,
].join("");

test("serverEvents parses the stream, and reconnects after it with the last id", async () => {
  const calls = [];
  const stop = new AbortController();
  const fetch = async (url, init) => {
    calls.push([url, { ...init.headers }]);
    const body = calls.length === 1 ? FIRST : `id: 102\nevent: deleted\ndata: ${JSON.stringify(SERVER)}\n\n`;
    return new Response(stream(body, 7), { headers: { "Content-Type": "text/event-stream" } });
  };
  const events = [];
  const statuses = [];
  const onStatus = (status) => statuses.push(status);
  for await (const event of serverEvents({ baseUrl: "http://gw.test/", token: "t", query: { initial: true }, fetch, signal: stop.signal, onStatus })) {
    events.push(event);
    if (event.event === "deleted") stop.abort();
  }
  assert.deepEqual(statuses, ["open", "reconnecting", "open"]);
  assert.deepEqual(
    events.map((e) => [e.event, e.id, e.data.status ?? e.data.servers]),
    [["added", undefined, "ACTIVE"], ["synced", "100", 1], ["modified", "101.a", "SHUTOFF"], ["deleted", "102", "ACTIVE"]],
  );
  assert.equal(calls[0][0], "http://gw.test/api/v1/server/events?initial=true");
  assert.equal(calls[0][1]["X-Auth-Token"], "t");
  assert.equal(calls[0][1]["Last-Event-ID"], undefined);
  assert.equal(calls[1][1]["Last-Event-ID"], "101.a");
});

test("serverEvents throws an error answer (410 cursor_expired) as an ApiError", async () => {
  const fetch = async () => json({ code: "cursor_expired", message: "Too old: list again." }, 410);
  await assert.rejects(
    async () => {
      for await (const _ of serverEvents({ fetch, lastEventId: "1" }));
    },
    (e) => e instanceof ApiError && e.status === 410 && e.code === "cursor_expired",
  );
});
