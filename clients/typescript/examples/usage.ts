/**
 * Every operation of the gateway, called through the typed client: this file compiles under
 * `tsc --strict` with no casts and no non-null assertions (tests/test_typescript_client.py checks
 * both, and that every operation of docs/openapi.json is called here).
 *
 * Run it against a gateway: `GATEWAY=http://127.0.0.1:8080 API_KEY=… node dist/examples/usage.js`
 * after `npx tsc -p .` (it creates and deletes a server, a keypair, a security group and a volume named
 * `ts-example…`, and a floating IP).
 */
import { ApiError, createClient, pages, serverEvents, type Server } from "../src/index.js";

const baseUrl = process.env["GATEWAY"] ?? "http://127.0.0.1:8080";
const apiKey = process.env["API_KEY"];
const client = createClient(apiKey === undefined ? { baseUrl } : { baseUrl, apiKey });

function fail(status: number, error: { code: string; message: string } | undefined): never {
  throw new ApiError(status, error ?? { code: "unknown", message: `HTTP ${status}` });
}

export async function probes(): Promise<void> {
  const alive = await client.GET("/healthz");
  console.log("alive:", alive.data?.status);
  const ready = await client.GET("/readyz");
  // 503 (not ready) is a documented answer of the same shape: openapi-fetch puts it in `error`.
  const readiness = ready.data ?? ready.error;
  console.log("ready:", readiness?.ready, readiness?.reason ?? "");
  for (const [name, check] of Object.entries(readiness?.checks ?? {})) console.log(" ", name, check.ok);
}

export async function catalogue(): Promise<{ image: string; flavor: string; network: string }> {
  for await (const image of pages("images", (marker) =>
    client.GET("/api/v1/image", { params: { query: { marker, limit: 50, visibility: "public" } } }),
  )) {
    console.log("image", image.name ?? "(no name)", image.size ?? 0, "bytes");
  }
  const flavors = await client.GET("/api/v1/flavor", { params: { query: { sort: "ram" } } });
  if (flavors.error) fail(flavors.response.status, flavors.error);
  const smallest = flavors.data.flavors[0];
  const networks = await client.GET("/api/v1/network", { params: { query: { limit: 1 } } });
  if (networks.error) fail(networks.response.status, networks.error);
  const images = await client.GET("/api/v1/image", { params: { query: { limit: 1 } } });
  if (images.error) fail(images.response.status, images.error);
  const network = networks.data.networks[0];
  const firstImage = images.data.images[0];
  if (smallest === undefined || network === undefined || firstImage === undefined) throw new Error("empty cloud");

  const image = await client.GET("/api/v1/image/{ref}", { params: { path: { ref: firstImage.id } } });
  const flavor = await client.GET("/api/v1/flavor/{ref}", { params: { path: { ref: smallest.name } } });
  const net = await client.GET("/api/v1/network/{ref}", { params: { path: { ref: network.id } } });
  if (image.error) fail(image.response.status, image.error);
  if (flavor.error) fail(flavor.response.status, flavor.error);
  if (net.error) fail(net.response.status, net.error);
  console.log(image.data.disk_format, flavor.data.vcpus, "vCPUs", net.data.subnets.length, "subnets");
  return { image: image.data.id, flavor: flavor.data.id, network: net.data.id };
}

export async function quota(): Promise<void> {
  const { data, error, response } = await client.GET("/api/v1/limits");
  if (error) fail(response.status, error);
  const { instances } = data.limits;
  console.log("servers:", instances.used ?? "?", "of", instances.max ?? "unlimited");
  for (const room of data.headroom) console.log(room.flavor_name, "fits", room.fits ?? "any number", room.limited_by);
}

export async function keypairs(): Promise<void> {
  const created = await client.POST("/api/v1/keypair", { body: { name: "ts-example-key" } });
  if (created.error) fail(created.response.status, created.error);
  console.log("private key shown once:", created.data.private_key !== null);
  const shown = await client.GET("/api/v1/keypair/{name}", { params: { path: { name: created.data.name } } });
  console.log(shown.data?.fingerprint, shown.data?.created_at ?? "");
  const all = await client.GET("/api/v1/keypair");
  console.log((all.data?.keypairs ?? []).map((k) => k.name));
  const deleted = await client.DELETE("/api/v1/keypair/{name}", { params: { path: { name: created.data.name } } });
  console.log("deleted:", deleted.response.status === 204);
}

export async function servers(refs: { image: string; flavor: string; network: string }): Promise<void> {
  const body = { name: "ts-example", image_id: refs.image, flavor_id: refs.flavor, network_id: refs.network };

  // The dry run: every check, nothing created; its own operation, so its answer has its own type.
  const plan = await client.POST("/api/v1/server/dry-run", { body });
  if (plan.error) fail(plan.response.status, plan.error);
  console.log("would create", plan.data.server.name, "from", plan.data.server.image.name ?? plan.data.server.image.id);

  const created = await client.POST("/api/v1/server", {
    body,
    params: { query: { wait: true, timeout: 120 }, header: { "Idempotency-Key": "ts-example-1" } },
  });
  if (created.error) fail(created.response.status, created.error);
  const server: Server = created.data; // 201 (ACTIVE) or 202 (still BUILD): the same shape
  console.log(server.id, server.status, server.task_state ?? "-", server.fault?.message ?? "");

  const ref = server.id;
  const shown = await client.GET("/api/v1/server/{ref}", { params: { path: { ref } } });
  if (shown.error) fail(shown.response.status, shown.error);
  for (const [network, addresses] of Object.entries(shown.data.addresses)) {
    console.log(network, addresses.map((a) => `${a.addr} (${a.type ?? "?"})`).join(", "));
  }
  const etag = shown.response.headers.get("ETag") ?? "*";

  const edited = await client.PATCH("/api/v1/server/{ref}", {
    params: { path: { ref }, header: { "If-Match": etag } },
    body: { description: "made by examples/usage.ts", tags: ["example"] },
  });
  if (edited.error) fail(edited.response.status, edited.error);
  console.log(edited.data.tags);

  const action = await client.POST("/api/v1/server/{ref}/action", {
    params: { path: { ref } },
    body: { action: "reboot", type: "soft" },
  });
  if (action.error) {
    // 409 invalid_state carries the server's status; every error has code and message.
    console.log(action.error.code, action.error.message);
  } else {
    console.log("rebooting; poll until", action.data.target_status ?? "(unchanged)");
  }

  const log = await client.GET("/api/v1/server/{ref}/console-log", { params: { path: { ref }, query: { lines: 20 } } });
  console.log(log.data?.output ?? log.error?.message);
  const consoleUrl = await client.GET("/api/v1/server/{ref}/console", { params: { path: { ref } } });
  console.log(consoleUrl.data?.url ?? consoleUrl.error?.code);

  // Every server, page by page; with ?fields= only the asked-for fields come (id always).
  for await (const item of pages("servers", (marker) =>
    client.GET("/api/v1/server", { params: { query: { marker, fields: "id,name,status", sort: "name" } } }),
  )) {
    console.log(item.id, item.name ?? "", item.status ?? "");
  }

  await networking(ref);
  await volumes(ref);

  const deleted = await client.DELETE("/api/v1/server/{ref}", { params: { path: { ref } } });
  console.log("deleting:", deleted.response.status === 204);
}

/** Follow the project's servers live: the `initial` ones, then every change, until `seconds` pass. */
export async function live(seconds: number): Promise<Map<string, Server>> {
  const known = new Map<string, Server>();
  const stop = new AbortController();
  const timer = setTimeout(() => stop.abort(), seconds * 1000);
  try {
    const options = { baseUrl, query: { initial: true }, signal: stop.signal };
    for await (const change of serverEvents(apiKey === undefined ? options : { ...options, apiKey })) {
      switch (change.event) {
        case "added":
        case "modified":
          known.set(change.data.id, change.data);
          break;
        case "deleted":
          known.delete(change.data.id);
          break;
        case "synced":
          console.log(change.data.servers, "servers now");
          break;
        case "expired":
          console.log(change.data.message);
          return known;
        case "bookmark":
          break;
      }
    }
  } catch (error) {
    if (!stop.signal.aborted) throw error;
  } finally {
    clearTimeout(timer);
  }
  return known;
}

export async function networking(server: string): Promise<void> {
  // A security group with one rule, shown, renamed, then removed with its rule.
  const group = await client.POST("/api/v1/security-group", { body: { name: "ts-example-web" } });
  if (group.error) fail(group.response.status, group.error);
  const ref = group.data.id;
  const rule = await client.POST("/api/v1/security-group/{ref}/rule", {
    params: { path: { ref } },
    body: { direction: "ingress", protocol: "tcp", port: 22, remote_cidr: "0.0.0.0/0" },
  });
  if (rule.error) fail(rule.response.status, rule.error);
  console.log("rule", rule.data.protocol, rule.data.port_min ?? "all", rule.data.remote_cidr ?? "any");
  const edited = await client.PATCH("/api/v1/security-group/{ref}", {
    params: { path: { ref } },
    body: { description: "SSH from anywhere" },
  });
  const shown = await client.GET("/api/v1/security-group/{ref}", { params: { path: { ref } } });
  console.log(edited.data?.description, shown.data?.rules.length ?? 0, "rules");
  const groups = await client.GET("/api/v1/security-group", { params: { query: { name: "ts-example-web" } } });
  console.log((groups.data?.security_groups ?? []).map((g) => g.id));
  await client.DELETE("/api/v1/security-group/{ref}/rule/{rule_id}", {
    params: { path: { ref, rule_id: rule.data.id } },
  });
  await client.DELETE("/api/v1/security-group/{ref}", { params: { path: { ref } } });

  // The server's ports, and a floating IP allocated, shown, listed and released.
  const ports = await client.GET("/api/v1/server/{ref}/interfaces", { params: { path: { ref: server } } });
  for (const port of ports.data?.interfaces ?? []) console.log(port.mac_address, port.fixed_ips.map((ip) => ip.address));
  const fip = await client.POST("/api/v1/floating-ip", { body: {} });
  if (fip.error) fail(fip.response.status, fip.error);
  const address = fip.data.address;
  const one = await client.GET("/api/v1/floating-ip/{ref}", { params: { path: { ref: address } } });
  console.log(address, one.data?.status, one.data?.server_id ?? "unattached");
  const all = await client.GET("/api/v1/floating-ip", { params: { query: { status: "DOWN" } } });
  console.log((all.data?.floating_ips ?? []).length, "floating IPs down");
  await client.DELETE("/api/v1/floating-ip/{ref}", { params: { path: { ref: address } } });
}

export async function volumes(server: string): Promise<void> {
  // A 1 GiB volume, attached to the server, detached, renamed and deleted.
  const created = await client.POST("/api/v1/volume", {
    body: { name: "ts-example-data", size: 1 },
    params: { query: { wait: true }, header: { "Idempotency-Key": "ts-example-volume-1" } },
  });
  if (created.error) fail(created.response.status, created.error);
  const ref = created.data.id;
  const attached = await client.POST("/api/v1/server/{ref}/action", {
    params: { path: { ref: server } },
    body: { action: "attach_volume", volume: ref },
  });
  console.log("attaching; poll the volume until", attached.data?.target_status ?? attached.error?.code);
  const shown = await client.GET("/api/v1/volume/{ref}", { params: { path: { ref } } });
  console.log(shown.data?.status, shown.data?.size, "GiB");
  const onServer = await client.GET("/api/v1/volume", { params: { query: { server } } });
  console.log((onServer.data?.volumes ?? []).map((v) => v.name ?? v.id));
  await client.POST("/api/v1/server/{ref}/action", {
    params: { path: { ref: server } },
    body: { action: "detach_volume", volume: ref },
  });
  const renamed = await client.PATCH("/api/v1/volume/{ref}", {
    params: { path: { ref } },
    body: { name: "ts-example-data-2" },
  });
  console.log(renamed.data?.name ?? renamed.error?.message);
  const deleted = await client.DELETE("/api/v1/volume/{ref}", { params: { path: { ref } } });
  console.log("volume deleted:", deleted.response.status === 204, deleted.error?.code ?? "");
}

async function main(): Promise<void> {
  await probes();
  const refs = await catalogue();
  await quota();
  await keypairs();
  const watching = live(60);
  await servers(refs);
  console.log("seen live:", [...(await watching).keys()]);
}

if (process.argv[1]?.endsWith("usage.js")) {
  main().catch((error: unknown) => {
    console.error(error instanceof ApiError ? `${error.status} ${error.code}: ${error.message}` : error);
    process.exitCode = 1;
  });
}
