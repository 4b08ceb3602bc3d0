import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cleanUpProcesses, runCli, type CliResult } from "./support/process.ts";
import { startTestServer, type TestServer } from "./support/server.ts";

let server: TestServer;
let dir: string;
beforeAll(async () => {
  server = await startTestServer();
  dir = await mkdtemp(path.join(os.tmpdir(), "waymark-cli-journeys-"));
});
afterAll(async () => {
  await cleanUpProcesses();
  await server.close();
  await rm(dir, { recursive: true, force: true });
});

/** Runs `waymark <args>` against the test server, the way a user with WAYMARK_URL/TOKEN set would. */
const waymark = (...args: string[]) =>
  runCli(args, { env: { WAYMARK_URL: server.url, WAYMARK_TOKEN: server.keys.adminToken } });

async function file(name: string, text: string): Promise<string> {
  const p = path.join(dir, name);
  await writeFile(p, text);
  return p;
}

const ok = (r: CliResult) => expect(r.code, `stdout: ${r.stdout}\nstderr: ${r.stderr}`).toBe(0);
const failed = (r: CliResult) => expect(r.code, `stdout: ${r.stdout}\nstderr: ${r.stderr}`).toBe(1);

const welcome = `
key: welcome
name: Welcome series
trigger:
  event: Signed Up
steps:
  - id: wait_a_day
    wait:
      duration: 1d
  - id: send_welcome
    message:
      channel: email
      template: welcome
`;

/** Schema-valid, but a step goes to a step that does not exist. */
const brokenLink = welcome.replace("  - id: wait_a_day\n", "  - id: wait_a_day\n    next: nowhere\n");

describe("an engineer checks journey files before committing them", () => {
  it("a good YAML file: exit 0 and says it is valid", async () => {
    const good = await file("welcome.yaml", welcome);
    const r = await waymark("journeys", "validate", "-f", good);
    ok(r);
    expect(r.stdout.trim()).toBe(`${good}: valid`);
  });

  it("a YAML file breaking schema rules: each violation as path: message, exit 1", async () => {
    const bad = await file(
      "bad.yml",
      welcome.replace("name: Welcome series\n", "").replace("channel: email", "channel: pigeon"),
    );
    const r = await waymark("journeys", "validate", "-f", bad);
    failed(r);
    const lines = r.stdout.trim().split("\n");
    expect(lines).toHaveLength(2);
    expect(lines).toContainEqual(expect.stringMatching(/^name: /));
    expect(lines).toContainEqual(expect.stringMatching(/^steps\.1\.message\.channel: .*email/));
  });

  it("a step going nowhere is named by its path", async () => {
    const bad = await file("broken-link.yaml", brokenLink);
    const r = await waymark("journeys", "validate", "-f", bad, "--json");
    failed(r);
    const { violations } = JSON.parse(r.stdout) as { violations: Array<{ path: string; message: string }> };
    expect(violations).toContainEqual({ path: "steps.0", message: expect.stringContaining('"nowhere"') });
  });

  it("JSON files work the same way", async () => {
    const { parse } = await import("yaml");
    const good = await file("welcome.json", JSON.stringify(parse(welcome)));
    ok(await waymark("journeys", "validate", "-f", good));
  });

  it("a file that is not YAML says where, exit 1", async () => {
    const bad = await file("syntax.yaml", "key: welcome\nsteps: [\n");
    const r = await waymark("journeys", "validate", "-f", bad);
    failed(r);
    expect(r.stderr).toContain("not valid YAML");
    expect(r.stderr).toMatch(/line \d+/);
  });
});

describe("data tables from the command line", () => {
  it("tables put with a CSV file, then tables get prints the row", async () => {
    const csv = await file("products.csv", 'sku,name,price\nA1,"Socks, wool",9.50\nB2,Hat,20\n');
    const put = await waymark("tables", "put", "products", "-f", csv, "--key", "sku");
    ok(put);
    expect(put.stdout.trim()).toBe("products: 2 rows, key sku");
    const get = await waymark("tables", "get", "products", "A1");
    ok(get);
    expect(get.stdout).toBe("sku: A1\nname: Socks, wool\nprice: 9.50\n");
    const json = await waymark("tables", "get", "products", "B2", "--json");
    ok(json);
    expect(JSON.parse(json.stdout)).toEqual({
      table: "products",
      key: "B2",
      row: { sku: "B2", name: "Hat", price: "20" },
    });
  });

  it("a JSON array of rows with --key keeps the values' types", async () => {
    const rows = await file("stores.json", JSON.stringify([{ id: "lyon", open: true, floors: 2 }]));
    ok(await waymark("tables", "put", "stores", "-f", rows, "--key", "id"));
    const get = await waymark("tables", "get", "stores", "lyon", "--json");
    expect(JSON.parse(get.stdout).row).toEqual({ id: "lyon", open: true, floors: 2 });
    const list = await waymark("tables", "list");
    ok(list);
    expect(list.stdout).toMatch(/^NAME\s+KEY\s+ROWS\s+UPDATED\n/);
    expect(list.stdout).toMatch(/\nstores\s+id\s+1\s/);
  });

  it("a refused upload prints every problem and the server's summary, exit 1", async () => {
    const csv = await file("dupes.csv", "sku,name\nA1,Socks\nA1,Hat\n");
    const r = await waymark("tables", "put", "dupes", "-f", csv, "--key", "sku");
    failed(r);
    expect(r.stdout).toContain('row 2 (line 3), column sku: duplicate key "A1" (first in row 1)');
    expect(r.stderr).toContain('waymark: row 2 (line 3), column sku: duplicate key "A1"');
  });

  it("a missing row: the server's message, exit 1", async () => {
    const r = await waymark("tables", "get", "products", "Z9");
    failed(r);
    expect(r.stderr.trim()).toBe('waymark: data table products has no row with key "Z9"');
  });

  it("a CSV file without --key is refused before anything is sent", async () => {
    const csv = await file("nokey.csv", "sku\nA1\n");
    const r = await waymark("tables", "put", "nokey", "-f", csv);
    failed(r);
    expect(r.stderr).toContain("--key");
  });
});

describe("where the CLI finds the API", () => {
  it("credentials.json in --data-dir when WAYMARK_URL and WAYMARK_TOKEN are not set", async () => {
    const dataDir = path.join(dir, "data");
    await mkdir(dataDir);
    await writeFile(
      path.join(dataDir, "credentials.json"),
      JSON.stringify({ apiUrl: server.url, adminToken: server.keys.adminToken }),
    );
    const r = await runCli(["tables", "get", "products", "A1", "--data-dir", dataDir]);
    ok(r);
    expect(r.stdout).toContain("sku: A1");
  });

  it("neither: a clear error, exit 1", async () => {
    const r = await runCli(["journeys", "list", "--data-dir", path.join(dir, "nowhere")]);
    failed(r);
    expect(r.stderr).toContain("set WAYMARK_URL and WAYMARK_TOKEN");
    expect(r.stderr).toContain("credentials.json");
  });

  it("a wrong token: the server's message, exit 1", async () => {
    const r = await runCli(["tables", "list"], { env: { WAYMARK_URL: server.url, WAYMARK_TOKEN: "wrong" } });
    failed(r);
    expect(r.stderr.trim()).toBe("waymark: unknown admin token");
  });
});

describe("journeys through the API: apply, publish, list, inspect, pause, archive", () => {
  it("apply saves a draft with violations and lists them (exit 0: the draft is saved)", async () => {
    const r = await waymark("journeys", "apply", "-f", await file("draft.yaml", brokenLink));
    ok(r);
    expect(r.stdout).toContain("welcome: draft saved");
    expect(r.stdout).toMatch(/^steps\.0: .*"nowhere"/m);
  });

  it("publish -f refuses a file with violations, exit 1", async () => {
    const r = await waymark("journeys", "publish", "-f", path.join(dir, "draft.yaml"));
    failed(r);
    expect(r.stderr).toContain("welcome was not published");
  });

  it("publish <key> of a draft with violations prints the server's violations, exit 1", async () => {
    const r = await waymark("journeys", "publish", "welcome");
    failed(r);
    expect(r.stdout).toMatch(/^steps\.0: /m);
  });

  it("publish refuses a message step whose template does not exist yet, naming it and how to create it", async () => {
    const r = await waymark("journeys", "publish", "-f", path.join(dir, "welcome.yaml"));
    failed(r);
    expect(r.stdout).toContain(
      'steps.1.message.template: unknown template "welcome"; create it with PUT /api/v1/templates/welcome',
    );
    const template = await server.admin("/api/v1/templates/welcome", {
      method: "PUT",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ channel: "email", subject: "Welcome", html: "<p>Welcome aboard</p>" }),
    });
    expect(template.status).toBe(200);
  });

  it("publish -f applies a good file and publishes version 1", async () => {
    const r = await waymark("journeys", "publish", "-f", path.join(dir, "welcome.yaml"));
    ok(r);
    expect(r.stdout.trim().split("\n").at(-1)).toBe("welcome: published version 1");
  });

  it("publishing the same draft again adds no identical version", async () => {
    const r = await waymark("journeys", "publish", "welcome");
    ok(r);
    expect(r.stdout.trim()).toBe("welcome: unchanged; version 1 stays published");
    const journey = (await (await server.admin("/api/v1/journeys/welcome")).json()) as {
      publishedVersion: number;
      versions: unknown[];
    };
    expect(journey.publishedVersion).toBe(1);
    expect(journey.versions).toHaveLength(1);
  });

  it("list shows it live", async () => {
    const r = await waymark("journeys", "list");
    ok(r);
    expect(r.stdout).toMatch(/^KEY\s+NAME\s+STATUS\s+PUBLISHED/);
    expect(r.stdout).toMatch(/\nwelcome\s+Welcome series\s+active\s+1\b/);
    const json = await waymark("journeys", "list", "--json");
    expect(JSON.parse(json.stdout).items).toContainEqual(
      expect.objectContaining({ key: "welcome", status: "active", publishedVersion: 1 }),
    );
  });

  it("get, stats and instances answer", async () => {
    const get = await waymark("journeys", "get", "welcome");
    ok(get);
    expect(get.stdout).toMatch(/^key:\s+welcome$/m);
    expect(get.stdout).toMatch(/^status:\s+active$/m);
    ok(await waymark("journeys", "stats", "welcome"));
    const stats = await waymark("journeys", "stats", "welcome", "--json");
    ok(stats);
    expect(typeof JSON.parse(stats.stdout)).toBe("object");
    const instances = await waymark("journeys", "instances", "welcome", "--status", "active", "--limit", "5");
    ok(instances);
    expect(instances.stdout.trim()).toBe("no instances");
  });

  it("pause, resume and archive change the status", async () => {
    // The status read through the API: this test is about the three commands (each a process start).
    const status = async () =>
      ((await (await server.admin("/api/v1/journeys/welcome")).json()) as { status: string }).status;
    ok(await waymark("journeys", "pause", "welcome"));
    expect(await status()).toBe("paused");
    ok(await waymark("journeys", "resume", "welcome"));
    expect(await status()).toBe("active");
    const archive = await waymark("journeys", "archive", "welcome", "--exit-instances");
    ok(archive);
    expect(archive.stdout.trim()).toBe("welcome: archived, live instances exited");
    expect(await status()).toBe("archived");
  }, 60_000);

  it("an unknown journey: the server's message, exit 1", async () => {
    const r = await waymark("journeys", "get", "nope");
    failed(r);
    expect(r.stderr).toContain("waymark: no journey nope");
  });
});
