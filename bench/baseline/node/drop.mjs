// Baseline (b): the Node script a user would write instead of videodrop, on the official `openai`
// package and chokidar. Each manifest: create, poll every POLL_S seconds, download, check with
// ffprobe, move into the outbox with a small sidecar. At most CONCURRENCY at once; exits after N.
// Usage: node drop.mjs INBOX OUTBOX BASE_URL N CONCURRENCY POLL_S   (the key in $VD_BENCH_KEY)
import { execFile } from "node:child_process";
import { promises as fs } from "node:fs";
import path from "node:path";
import { promisify } from "node:util";

import chokidar from "chokidar";
import OpenAI from "openai";

const [inbox, outbox, baseURL, total, concurrency, pollS] = process.argv.slice(2);
const client = new OpenAI({ apiKey: process.env.VD_BENCH_KEY, baseURL });
const run = promisify(execFile);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

let running = 0;
let finished = 0;
const waiting = [];
const seen = new Set();

async function job(file) {
  const name = path.basename(file, ".json");
  const manifest = JSON.parse(await fs.readFile(file, "utf8"));
  let video = await client.videos.create({
    model: manifest.model ?? "tiny",
    prompt: manifest.prompt,
    seconds: String(manifest.seconds ?? 1),
    size: manifest.size ?? "160x90",
  });
  while (video.status !== "completed" && video.status !== "failed") {
    await sleep(Number(pollS) * 1000);
    video = await client.videos.retrieve(video.id);
  }
  if (video.status !== "completed") throw new Error(`${name}: ${video.status}`);
  const content = await client.videos.downloadContent(video.id);
  const tmp = path.join(outbox, `.${name}.mp4`);
  await fs.writeFile(tmp, Buffer.from(await content.arrayBuffer()));
  await run("ffprobe", ["-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", tmp]);
  await fs.rename(tmp, path.join(outbox, `${name}.mp4`));
  await fs.writeFile(path.join(outbox, `${name}.json`), JSON.stringify({ name, video_id: video.id }));
  await fs.rm(file);
}

function next() {
  while (running < Number(concurrency) && waiting.length > 0) {
    const file = waiting.shift();
    running++;
    job(file)
      .catch((e) => console.error(`${file}: ${e.message}`))
      .finally(() => {
        running--;
        finished++;
        if (finished >= Number(total)) process.exit(0);
        next();
      });
  }
}

chokidar.watch(inbox, { depth: 0, awaitWriteFinish: false }).on("add", (file) => {
  if (!file.endsWith(".json") || path.basename(file).startsWith(".") || seen.has(file)) return;
  seen.add(file);
  waiting.push(file);
  next();
});
