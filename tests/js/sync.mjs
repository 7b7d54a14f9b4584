// Cognito Sync clients against `cogid serve` (spec: cognito-sync.md §9.1):
//  1. amazon-cognito-js 1.1.0 (`AWS.CognitoSyncManager` on the AWS SDK for JavaScript v2), two devices of one
//     developer-authenticated identity, each with its own credentials provider (GetCredentialsForIdentity with
//     the token in `Logins`) and its own local storage: A writes theme/level and syncs, B syncs and reads them;
//     both change `theme`, A syncs first, B's sync must call onConflict and B keeps its own value; A syncs and
//     must see B's value.
//  2. The AWS SDK for JavaScript v3 (`@aws-sdk/client-cognito-sync`): ListRecords → UpdateRecords → ListRecords.
// Input from the environment (see tests/test_clients_external.py): COGID_ENDPOINT, COGID_POOL_ID,
// COGID_IDENTITY_ID, COGID_TOKEN (GetOpenIdTokenForDeveloperIdentity for that identity), COGID_REGION
// (default us-east-1). Prints one JSON object on stdout and exits 0, or exits 1 with the failed step on stderr.
// Every step is bounded (STEP_SECONDS); nothing waits forever.
import { createRequire } from "node:module";
import { CognitoSyncClient, ListRecordsCommand, UpdateRecordsCommand } from "@aws-sdk/client-cognito-sync";
import { fromCognitoIdentity } from "@aws-sdk/credential-providers";

const STEP_SECONDS = 20;

function required(name) {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
}

const endpoint = required("COGID_ENDPOINT");
const region = process.env.COGID_REGION || "us-east-1";
const poolId = required("COGID_POOL_ID");
const identityId = required("COGID_IDENTITY_ID");
const token = required("COGID_TOKEN");
const logins = { "cognito-identity.amazonaws.com": token };

// -- the browser environment amazon-cognito-js expects ---------------------------------------------------------
// Its only browser dependency is `window.localStorage`, read when a CognitoSyncManager is constructed (default
// DataStore AWS.CognitoSyncManager.StoreLocalStorage); the v2 SDK never looks at `window` in Node (isBrowser()
// is false there). Each device gets a fresh storage object installed just before its manager is built.
class MemoryStorage {
  #items = new Map();
  get length() { return this.#items.size; }
  key(index) { return [...this.#items.keys()][index] ?? null; }
  getItem(key) { return this.#items.has(String(key)) ? this.#items.get(String(key)) : null; }
  setItem(key, value) { this.#items.set(String(key), String(value)); }
  removeItem(key) { this.#items.delete(String(key)); }
  clear() { this.#items.clear(); }
}
globalThis.window = { localStorage: new MemoryStorage() };

process.env.AWS_SDK_JS_SUPPRESS_MAINTENANCE_MODE_MESSAGE = "1";
const require = createRequire(import.meta.url);
const AWS = require("aws-sdk");
require("amazon-cognito-js"); // UMD: factory(require("aws-sdk")) attaches AWS.CognitoSyncManager to that module

const httpOptions = { connectTimeout: 5000, timeout: 10000 };
// cognitosync: the service-specific section AWS.Service reads for every `new AWS.CognitoSync()`, which is how the
// manager's RemoteStorage builds its client (no endpoint option of its own).
AWS.config.update({ region, maxRetries: 0, httpOptions, cognitosync: { endpoint } });

// -- observation -------------------------------------------------------------------------------------------------
const observed = { identityId };
const wire = [];
let current = "setup";

function parsed(body) {
  if (body === undefined || body === null) return null;
  const text = typeof body === "string" ? body
    : ArrayBuffer.isView(body) ? Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString("utf8")
    : String(body);
  if (text === "") return "";
  try { return JSON.parse(text); } catch { return text.length > 300 ? `${text.slice(0, 300)}…` : text; }
}

// AWS.events listeners join every v2 request (the SDK adds them first, before the caller's callback).
AWS.events.on("complete", (resp) => {
  const request = resp.request;
  const http = request.httpRequest;
  const sync = request.service.serviceIdentifier === "cognitosync";
  wire.push({
    step: current,
    sdk: "v2",
    operation: request.operation,
    method: http.method,
    path: http.path,
    ...(sync ? { requestBody: parsed(http.body) } : {}),
    status: resp.httpResponse?.statusCode,
    ...(resp.error ? { error: resp.error.code, message: resp.error.message } : {}),
    ...(sync ? { responseBody: parsed(resp.httpResponse?.body) } : {}),
  });
});

function fail(step, error) {
  const message = error instanceof Error ? error.message : String(error);
  process.stderr.write(`sync.mjs: step ${step} failed: ${message}\n`);
  process.stderr.write(`${JSON.stringify({ ...observed, wire }, null, 1)}\n`);
  process.exit(1);
}
process.on("uncaughtException", (error) => fail(current, `uncaught ${error?.stack ?? error}`));
process.on("unhandledRejection", (error) => fail(current, `unhandled rejection ${error?.stack ?? error}`));

async function step(name, work) {
  current = name;
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no outcome within ${STEP_SECONDS} s`)), STEP_SECONDS * 1000);
  });
  try {
    return await Promise.race([work(), timeout]);
  } catch (error) {
    fail(name, error);
  } finally {
    clearTimeout(timer);
  }
}

function check(condition, message) {
  if (!condition) throw new Error(message);
}

function callback(fn) {
  return new Promise((resolve, reject) => fn((error, value) => (error ? reject(error) : resolve(value))));
}

function operationsOf(name) {
  return wire.filter((entry) => entry.step === name && entry.sdk === "v2").map((entry) => entry.operation);
}

// -- amazon-cognito-js devices -----------------------------------------------------------------------------------
async function device(name) {
  const credentials = new AWS.CognitoIdentityCredentials(
    { IdentityPoolId: poolId, IdentityId: identityId, Logins: logins },
    { region, endpoint, maxRetries: 0, httpOptions },
  );
  await credentials.getPromise();
  check(/^ASIA/.test(credentials.accessKeyId ?? ""), `no temporary credentials (got ${credentials.accessKeyId})`);
  check(credentials.identityId === identityId, `credentials are for ${credentials.identityId}`);
  AWS.config.credentials = credentials;
  globalThis.window.localStorage = new MemoryStorage();
  const log = [];
  const manager = new AWS.CognitoSyncManager({ log: (line) => log.push(line) });
  const dataset = await callback((done) => manager.openOrCreateDataset("settings", done));
  observed[name] = { accessKeyId: credentials.accessKeyId, expireTime: credentials.expireTime?.toISOString() };
  return { name, manager, dataset, log, callbacks: [], conflicts: [] };
}

function put(dev, key, value) {
  return callback((done) => dev.dataset.put(key, value, done));
}

async function values(dev, ...keys) {
  const seen = {};
  for (const key of keys) seen[key] = await callback((done) => dev.dataset.get(key, done)) ?? null;
  return seen;
}

// One dataset.synchronize, settled by onSuccess (resolve) or onFailure / an unwanted callback (reject).
// onConflict keeps the local record (resolveWithLocalRecord), as the library's README shows.
function synchronize(dev) {
  const calls = [];
  dev.callbacks.push(calls);
  return new Promise((resolve, reject) => {
    dev.dataset.synchronize({
      onSuccess(dataset, newRecords) {
        calls.push("onSuccess");
        resolve({ calls, newRecords: (newRecords ?? []).map((r) => ({ key: r.getKey(), value: r.getValue() })) });
      },
      onFailure(error) {
        calls.push("onFailure");
        reject(new Error(`onFailure: ${error?.message ?? error} (library log: ${dev.log.slice(-6).join(" | ")})`));
      },
      onConflict(dataset, conflicts, carryOn) {
        calls.push("onConflict");
        const resolved = conflicts.map((conflict) => {
          dev.conflicts.push({
            key: conflict.getKey(),
            local: conflict.getLocalRecord().getValue(),
            remote: conflict.getRemoteRecord().getValue(),
            remoteSyncCount: conflict.getRemoteRecord().getSyncCount(),
          });
          return conflict.resolveWithLocalRecord();
        });
        dataset.resolve(resolved, () => carryOn(true));
      },
      onDatasetDeleted(dataset, datasetName, carryOn) {
        calls.push("onDatasetDeleted");
        reject(new Error(`onDatasetDeleted(${datasetName}) was called`));
        carryOn(false);
      },
      onDatasetsMerged(dataset, datasetNames, carryOn) {
        calls.push("onDatasetsMerged");
        reject(new Error(`onDatasetsMerged(${JSON.stringify(datasetNames)}) was called`));
        carryOn(false);
      },
    });
  });
}

async function lastSyncCount(dev) {
  return callback((done) => dev.manager.local.getLastSyncCount(identityId, "settings", done));
}

const a = await step("deviceA.credentials", () => device("deviceA"));
const b = await step("deviceB.credentials", () => device("deviceB"));

observed.deviceASync1 = await step("deviceA.sync1", async () => {
  await put(a, "theme", "dark");
  await put(a, "level", "7");
  const done = await synchronize(a);
  return { callbacks: done.calls, operations: operationsOf("deviceA.sync1"), lastSyncCount: await lastSyncCount(a) };
});

observed.deviceBSync1 = await step("deviceB.sync1", async () => {
  const done = await synchronize(b);
  const seen = await values(b, "theme", "level");
  check(seen.theme === "dark" && seen.level === "7", `device B read ${JSON.stringify(seen)}, not theme=dark level=7`);
  return { callbacks: done.calls, operations: operationsOf("deviceB.sync1"), seen, lastSyncCount: await lastSyncCount(b) };
});

observed.deviceASync2 = await step("deviceA.sync2", async () => {
  await put(a, "theme", "light");
  await put(b, "theme", "blue");
  const done = await synchronize(a);
  return { callbacks: done.calls, operations: operationsOf("deviceA.sync2"), lastSyncCount: await lastSyncCount(a) };
});

observed.deviceBSync2 = await step("deviceB.sync2", async () => {
  const done = await synchronize(b);
  check(done.calls.includes("onConflict"), `onConflict was not called (callbacks: ${done.calls.join(", ")})`);
  const seen = await values(b, "theme", "level");
  check(seen.theme === "blue", `device B kept theme=${seen.theme} after resolving with its local value`);
  return {
    callbacks: done.calls, operations: operationsOf("deviceB.sync2"), conflicts: b.conflicts, seen,
    lastSyncCount: await lastSyncCount(b),
  };
});

observed.deviceASync3 = await step("deviceA.sync3", async () => {
  const done = await synchronize(a);
  const seen = await values(a, "theme", "level");
  check(seen.theme === "blue" && seen.level === "7", `device A read ${JSON.stringify(seen)}, not theme=blue level=7`);
  return { callbacks: done.calls, operations: operationsOf("deviceA.sync3"), seen, lastSyncCount: await lastSyncCount(a) };
});

// -- AWS SDK for JavaScript v3 -------------------------------------------------------------------------------------
observed.v3 = await step("v3", async () => {
  const credentials = await fromCognitoIdentity({
    identityId, logins, clientConfig: { region, endpoint, maxAttempts: 1 },
  })();
  const client = new CognitoSyncClient({ region, endpoint, credentials, maxAttempts: 1 });
  client.middlewareStack.add((next) => async (args) => {
    const entry = { step: "v3", sdk: "v3", method: args.request.method, path: args.request.path,
                    query: args.request.query, requestBody: parsed(args.request.body) };
    wire.push(entry);
    try {
      const result = await next(args);
      entry.status = result.response?.statusCode;
      return result;
    } catch (error) {
      entry.status = error.$metadata?.httpStatusCode;
      entry.error = error.name;
      entry.message = error.message;
      throw error;
    }
  }, { step: "finalizeRequest", priority: "low", name: "cogidWireLog" });
  const where = { IdentityPoolId: poolId, IdentityId: identityId, DatasetName: "v3data" };
  const first = await client.send(new ListRecordsCommand({ ...where, LastSyncCount: 0 }));
  check(typeof first.SyncSessionToken === "string" && first.SyncSessionToken !== "", "ListRecords gave no SyncSessionToken");
  const update = await client.send(new UpdateRecordsCommand({
    ...where,
    SyncSessionToken: first.SyncSessionToken,
    RecordPatches: [{ Op: "replace", Key: "k", Value: "v", SyncCount: 0, DeviceLastModifiedDate: new Date() }],
  }));
  const second = await client.send(new ListRecordsCommand({ ...where, LastSyncCount: 0 }));
  const records = (second.Records ?? []).map((r) => ({ Key: r.Key, Value: r.Value, SyncCount: r.SyncCount }));
  check(records.some((r) => r.Key === "k" && r.Value === "v" && r.SyncCount === 1),
        `second ListRecords returned ${JSON.stringify(records)}, not k=v at SyncCount 1`);
  return {
    accessKeyId: credentials.accessKeyId,
    firstList: { Count: first.Count, DatasetSyncCount: first.DatasetSyncCount, DatasetExists: first.DatasetExists,
                 Records: first.Records ?? null },
    updated: (update.Records ?? []).map((r) => ({ Key: r.Key, Value: r.Value, SyncCount: r.SyncCount })),
    secondList: { Count: second.Count, DatasetSyncCount: second.DatasetSyncCount, DatasetExists: second.DatasetExists,
                  Records: records },
  };
});

observed.final = {
  deviceA: await values(a, "theme", "level"),
  deviceB: await values(b, "theme", "level"),
  onConflictRan: observed.deviceBSync2.callbacks.includes("onConflict"),
};
observed.wire = wire;
// Exit explicitly: the SDKs' keep-alive sockets would otherwise hold the process open for a while.
process.stdout.write(`${JSON.stringify(observed)}\n`, () => process.exit(0));
