/**
 * A typed client of the devstack-client gateway.
 *
 * `createClient` is openapi-fetch over the types openapi-typescript generates from the gateway's
 * OpenAPI document (src/schema.d.ts, never edited by hand: `npm run generate`). `pages` walks a
 * list page by page; `serverEvents` reads the server change stream. Both work in browsers and Node.
 */
import createFetchClient from "openapi-fetch";
/** An error answer of the gateway: its HTTP status and its JSON body (`code`, `message`, …). */
export class ApiError extends Error {
    status;
    body;
    constructor(status, body) {
        super(body.message);
        this.name = "ApiError";
        this.status = status;
        this.body = body;
    }
    get code() {
        return this.body.code;
    }
}
function credentialHeaders({ apiKey, token }) {
    const headers = {};
    if (apiKey !== undefined)
        headers["Authorization"] = `Bearer ${apiKey}`;
    if (token !== undefined)
        headers["X-Auth-Token"] = token;
    return headers;
}
/** A client with a typed method per operation: `client.GET("/api/v1/server/{ref}", …)`. */
export function createClient(options = {}) {
    const { apiKey, token, ...rest } = options;
    const client = createFetchClient(rest);
    const credentials = credentialHeaders({ apiKey, token });
    client.use({
        onRequest({ request }) {
            for (const [name, value] of Object.entries(credentials))
                request.headers.set(name, value);
            return request;
        },
    });
    return client;
}
/**
 * Every item of a list, page after page, following `next_marker` (null on the last page).
 *
 * ```ts
 * for await (const server of pages("servers", (marker) =>
 *   client.GET("/api/v1/server", { params: { query: { marker, status: "ACTIVE" } } }))) { … }
 * ```
 * An error answer is thrown as an ApiError.
 */
export async function* pages(key, page) {
    let marker;
    do {
        const { data, error, response } = await page(marker);
        if (data === undefined) {
            throw new ApiError(response.status, error ?? { code: "unknown", message: response.statusText });
        }
        yield* data[key];
        marker = data.next_marker ?? undefined;
    } while (marker !== undefined);
}
export const SERVER_EVENTS = ["added", "modified", "deleted", "synced", "bookmark", "expired"];
/**
 * The project's server changes as Server-Sent Events, read with fetch() so that an API key or a
 * token can be sent (a browser's EventSource cannot send headers). When the gateway ends the
 * stream, it reconnects after the `retry:` delay with the last event id, as EventSource would,
 * so nothing is missed; an error answer (410 `cursor_expired`: list again) is thrown as an ApiError.
 */
export async function* serverEvents(options = {}) {
    const { baseUrl = "", query = {}, signal, reconnect = true } = options;
    const fetcher = options.fetch ?? globalThis.fetch;
    let lastEventId = options.lastEventId ?? query.last_event_id;
    let retryMs = 3000;
    const search = new URLSearchParams();
    for (const [name, value] of Object.entries(query)) {
        if (value !== undefined && name !== "last_event_id")
            search.set(name, String(value));
    }
    const url = `${baseUrl.replace(/\/$/, "")}/api/v1/server/events${search.size ? `?${search}` : ""}`;
    for (;;) {
        const headers = { Accept: "text/event-stream", ...credentialHeaders(options) };
        if (lastEventId !== undefined)
            headers["Last-Event-ID"] = lastEventId;
        const response = await fetcher(url, { headers, signal, cache: "no-store" });
        if (!response.ok || response.body === null) {
            const body = await response.json().catch(() => ({ code: "unknown", message: response.statusText }));
            throw new ApiError(response.status, body);
        }
        options.onStatus?.("open");
        for await (const frame of frames(response.body)) {
            if (frame.retry !== undefined)
                retryMs = frame.retry;
            if (frame.id !== undefined)
                lastEventId = frame.id;
            const event = toEvent(frame);
            if (event !== undefined)
                yield event;
        }
        if (!reconnect || signal?.aborted)
            return;
        options.onStatus?.("reconnecting");
        await new Promise((resolve) => setTimeout(resolve, retryMs));
    }
}
function toEvent(frame) {
    if (frame.data === undefined || frame.event === undefined)
        return undefined; // a retry: or heartbeat
    const id = frame.id;
    switch (frame.event) {
        case "added":
        case "modified":
        case "deleted":
        case "synced":
        case "bookmark":
        case "expired":
            // The gateway's own JSON: the shapes of its OpenAPI document (its tests check them).
            return { event: frame.event, data: JSON.parse(frame.data), ...(id === undefined ? {} : { id }) };
        default:
            return undefined; // a kind this client does not know yet
    }
}
/** The frames of a text/event-stream (https://html.spec.whatwg.org/multipage/server-sent-events.html). */
export async function* frames(body) {
    const reader = body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    let frame = {};
    try {
        for (;;) {
            const { value, done } = await reader.read();
            if (done)
                return;
            buffer += decoder.decode(value, { stream: true });
            let end;
            while ((end = buffer.search(/\r\n|\r|\n/)) >= 0) {
                const line = buffer.slice(0, end);
                buffer = buffer.slice(end + (buffer.startsWith("\r\n", end) ? 2 : 1));
                if (line === "") {
                    if (Object.keys(frame).length)
                        yield frame;
                    frame = {};
                    continue;
                }
                if (line.startsWith(":"))
                    continue; // a comment: the heartbeat
                const colon = line.indexOf(":");
                const field = colon < 0 ? line : line.slice(0, colon);
                const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
                if (field === "data")
                    frame.data = frame.data === undefined ? value : `${frame.data}\n${value}`;
                else if (field === "event")
                    frame.event = value;
                else if (field === "id")
                    frame.id = value;
                else if (field === "retry" && /^\d+$/.test(value))
                    frame.retry = Number(value);
            }
        }
    }
    finally {
        reader.releaseLock();
    }
}
