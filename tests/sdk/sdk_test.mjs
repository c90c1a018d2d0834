// Conformance of the orchestrator's AI API with the official @livepeer/ai
// JavaScript SDK (pinned in package.json): the SDK must parse our answers.
//
// Usage: node sdk_test.mjs [BASE_URL]
//   BASE_URL (or $AIPOOL_SDK_URL): the orchestrator's HTTP address, e.g.
//   http://127.0.0.1:8936, with a worker serving llm, text-to-image and
//   text-to-speech for the model test/echo.
//   $AIPOOL_SDK_API_KEY: when set, the orchestrator runs with -apiKeys and this is
//   one of its keys; the SDK sends it with its httpBearer option, and requests
//   without a key or with a wrong one must come back as 401 errors.
//
// Prints one line per check (ok/FAIL) and exits 1 when any check fails.
import assert from "node:assert/strict";
import { Livepeer } from "@livepeer/ai";
import { HTTPClient } from "@livepeer/ai/lib/http.js";
import { HTTPError } from "@livepeer/ai/models/errors/httperror.js";
import { SDKError } from "@livepeer/ai/models/errors/sdkerror.js";

const baseURL = (process.argv[2] || process.env.AIPOOL_SDK_URL || "").replace(/\/+$/, "");
if (!baseURL) {
  console.error("usage: node sdk_test.mjs BASE_URL   (or set AIPOOL_SDK_URL)");
  process.exit(2);
}
const apiKey = process.env.AIPOOL_SDK_API_KEY || "";
const model = "test/echo";
const message = "hello from the sdk";

// The status of the last answer, seen by a response hook of the SDK's own HTTP
// client: HTTPError, which the SDK throws for 400, 401 and 500, does not keep it.
let lastStatus = 0;
const httpClient = new HTTPClient();
httpClient.addHook("response", (res) => {
  lastStatus = res.status;
});
// No retries (the SDK's default), and a bound on every call so a stuck answer
// fails the check instead of hanging the test.
const options = { serverURL: baseURL, timeoutMs: 30000, httpClient };
const sdk = new Livepeer(apiKey ? { ...options, httpBearer: apiKey } : options);

let failures = 0;
async function check(name, fn) {
  try {
    const note = await fn();
    console.log(`ok   ${name}${note ? ` (${note})` : ""}`);
  } catch (e) {
    failures++;
    console.log(`FAIL ${name}`);
    console.log(`     ${String(e && e.stack ? e.stack : e).replace(/\n/g, "\n     ")}`);
  }
}

// Runs fn, which must throw; returns what it threw.
async function thrown(fn) {
  try {
    await fn();
  } catch (e) {
    return e;
  }
  assert.fail("the SDK call succeeded where an error was expected");
}

// The text/event-stream body of a streamed llm answer (spec/llm.md LLM-3), as its
// events: [{event, data}], data being the joined data: lines of each event.
function parseEventStream(text) {
  const events = [];
  for (const block of text.split("\n\n")) {
    if (block === "") continue;
    const event = { event: "message", data: [] };
    for (const line of block.split("\n")) {
      if (line.startsWith("data:")) event.data.push(line.slice(5).replace(/^ /, ""));
      else if (line.startsWith("event:")) event.event = line.slice(6).trim();
      else if (line !== "" && !line.startsWith(":")) assert.fail(`unexpected stream line ${JSON.stringify(line)}`);
    }
    events.push({ event: event.event, data: event.data.join("\n") });
  }
  return events;
}

function checkLlmResponse(r) {
  assert.equal(typeof r.id, "string");
  assert.ok(r.id.length > 0, "id is empty");
  assert.equal(typeof r.model, "string");
  assert.equal(typeof r.created, "number");
  assert.equal(typeof r.usage, "object");
  assert.equal(typeof r.usage.promptTokens, "number");
  assert.equal(typeof r.usage.completionTokens, "number");
  assert.equal(typeof r.usage.totalTokens, "number");
  assert.ok(Array.isArray(r.choices) && r.choices.length >= 1, "no choices");
  assert.equal(r.choices[0].message.content, message);
}

await check("generate.llm answers whole (stream: false)", async () => {
  const res = await sdk.generate.llm({ model, messages: [{ role: "user", content: message }] });
  assert.equal(res.statusCode, 200);
  assert.match(res.contentType, /^application\/json/);
  assert.ok(res.llmResponse, "the SDK gave no llmResponse");
  checkLlmResponse(res.llmResponse);
  return `model=${res.llmResponse.model} usage=${JSON.stringify(res.llmResponse.usage)}`;
});

// @livepeer/ai 0.6.2 cannot consume a streamed llm answer. generate.llm sends
// "Accept: application/json" whatever `stream` says, and its response matchers
// (src/funcs/generateLlm.ts) only take 200 with application/json; a 200
// text/event-stream answer matches none of them, so the SDK reads the whole body as
// text and throws SDKError("Unexpected API response status or content-type") carrying
// the status, the content type and that text (its `body`). It does the same with
// go-livepeer's streamed answers, which have the same content type. So this check
// asserts exactly that, then reads the events from the error's body: the stream must
// be whole (data: chunks, then data: [DONE]) and its deltas must make the message.
// When a newer SDK version returns a stream, this check fails and must be updated.
await check("generate.llm streams (stream: true): SDKError carrying the whole event stream", async () => {
  const e = await thrown(() =>
    sdk.generate.llm({ model, stream: true, messages: [{ role: "user", content: message }] }));
  assert.ok(e instanceof SDKError, `expected SDKError, got ${e && e.name}: ${e && e.message}`);
  assert.equal(e.statusCode, 200);
  assert.match(e.contentType, /^text\/event-stream/);
  assert.match(e.message, /Unexpected API response status or content-type/);
  const events = parseEventStream(e.body);
  assert.ok(events.length >= 2, `too few events: ${JSON.stringify(e.body)}`);
  const last = events.at(-1);
  assert.deepEqual(last, { event: "message", data: "[DONE]" }, `the stream does not end with data: [DONE]: ${JSON.stringify(e.body)}`);
  let text = "";
  let role = "";
  for (const { event, data } of events.slice(0, -1)) {
    assert.equal(event, "message", `an "${event}" event: ${data}`);
    const chunk = JSON.parse(data);
    assert.equal(typeof chunk.id, "string");
    assert.equal(typeof chunk.model, "string");
    assert.equal(typeof chunk.created, "number");
    assert.ok(Array.isArray(chunk.choices) && chunk.choices.length >= 1, `a chunk without choices: ${data}`);
    const choice = chunk.choices[0];
    assert.equal(choice.index, 0);
    assert.equal(typeof choice.delta, "object", `a chunk without delta: ${data}`);
    if (choice.delta.role) role = choice.delta.role;
    text += choice.delta.content ?? "";
  }
  assert.equal(text, message);
  assert.equal(role, "assistant");
  return `${events.length - 1} chunks + [DONE], deltas joined: ${JSON.stringify(text)}`;
});

await check("generate.textToImage", async () => {
  const res = await sdk.generate.textToImage({ modelId: model, prompt: "a cat" });
  assert.equal(res.statusCode, 200);
  assert.ok(res.imageResponse, "the SDK gave no imageResponse");
  const images = res.imageResponse.images;
  assert.ok(Array.isArray(images) && images.length >= 1, "no images");
  // test/echo's text-to-image "image" is the prompt, as a text/plain data: URL.
  const [, type, data] = images[0].url.match(/^data:([^;,]+);base64,([A-Za-z0-9+/]*=*)$/) ?? [];
  assert.ok(type, `images[0].url is not a base64 data: URL: ${images[0].url.slice(0, 40)}`);
  assert.equal(Buffer.from(data, "base64").toString(), "a cat");
  assert.equal(typeof images[0].seed, "number");
  assert.equal(typeof images[0].nsfw, "boolean");
  return `${images.length} image(s), ${images[0].url}`;
});

await check("generate.textToSpeech", async () => {
  const res = await sdk.generate.textToSpeech({ modelId: model, text: "hello" });
  assert.equal(res.statusCode, 200);
  assert.ok(res.audioResponse, "the SDK gave no audioResponse");
  const url = res.audioResponse.audio.url;
  assert.ok(url.startsWith("data:audio/wav;base64,"), `audio.url is ${url.slice(0, 40)}`);
  const wav = Buffer.from(url.slice("data:audio/wav;base64,".length), "base64");
  assert.equal(wav.subarray(0, 4).toString("latin1"), "RIFF");
  assert.equal(wav.subarray(8, 12).toString("latin1"), "WAVE");
  return `${wav.length} bytes of WAV`;
});

// An error answer is {"detail":{"msg":"..."}} (API-7). The SDK turns 400, 401 and 500
// into HTTPError (the message in .detail.msg) and any other 4xx/5xx, 503 among them,
// into SDKError (the raw body in .body).
function errorMessage(e) {
  if (e instanceof HTTPError) return e.detail.msg;
  if (e instanceof SDKError) return JSON.parse(e.body).detail.msg;
  assert.fail(`expected HTTPError or SDKError, got ${e && e.name}: ${e && e.message}`);
}

await check("generate.llm for a model no worker serves: an error with the message", async () => {
  const e = await thrown(() =>
    sdk.generate.llm({ model: "nobody/serves-this", messages: [{ role: "user", content: message }] }));
  assert.ok([400, 503].includes(lastStatus), `status ${lastStatus}`);
  const msg = errorMessage(e);
  assert.equal(typeof msg, "string");
  assert.ok(msg.length > 0, "empty message");
  return `${lastStatus}, ${e.name}: ${msg}`;
});

if (apiKey) {
  await check("without a key: HTTPError 401 with the message", async () => {
    const anonymous = new Livepeer(options);
    const e = await thrown(() => anonymous.generate.textToImage({ modelId: model, prompt: "a cat" }));
    assert.ok(e instanceof HTTPError, `expected HTTPError, got ${e && e.name}: ${e && e.message}`);
    assert.equal(lastStatus, 401);
    assert.match(e.detail.msg, /missing API key/);
    return e.detail.msg;
  });
  await check("with a wrong key: HTTPError 401 with the message", async () => {
    const stranger = new Livepeer({ ...options, httpBearer: "not-a-key-of-this-pool" });
    const e = await thrown(() => stranger.generate.textToImage({ modelId: model, prompt: "a cat" }));
    assert.ok(e instanceof HTTPError, `expected HTTPError, got ${e && e.name}: ${e && e.message}`);
    assert.equal(lastStatus, 401);
    assert.equal(e.detail.msg, "invalid API key");
    return e.detail.msg;
  });
}

console.log(failures === 0 ? "sdk_test: all checks passed" : `sdk_test: ${failures} check(s) failed`);
process.exit(failures === 0 ? 0 : 1);
