// Drives the mock with the official openai SDK; one line per check, then "N passed, M failed".
import OpenAI, { toFile } from 'openai';
import zlib from 'node:zlib';

const baseURL = process.argv[2];
const client = new OpenAI({ apiKey: 'sk-test', baseURL, maxRetries: 0 });
let passed = 0;
let failed = 0;

async function check(name, fn) {
  try {
    await fn();
    passed++;
    console.log(`ok   ${name}`);
  } catch (e) {
    failed++;
    console.log(`FAIL ${name}: ${e && e.stack ? e.stack : e}`);
  }
}

function expect(cond, what) {
  if (!cond) throw new Error(what);
}

async function rejects(promise, ErrorClass, status) {
  try {
    await promise;
  } catch (e) {
    expect(e instanceof ErrorClass, `expected ${ErrorClass.name}, got ${e && e.constructor.name}`);
    expect(e.status === status, `expected status ${status}, got ${e.status}`);
    return e;
  }
  throw new Error(`expected ${ErrorClass.name}, but the call succeeded`);
}

// A solid-colour PNG of the given size (node has zlib but no image encoder).
function png(width, height) {
  const table = Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  const crc = (buf) => {
    let c = 0xffffffff;
    for (const b of buf) c = table[(c ^ b) & 0xff] ^ (c >>> 8);
    return (c ^ 0xffffffff) >>> 0;
  };
  const chunk = (type, data) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
    const sum = Buffer.alloc(4);
    sum.writeUInt32BE(crc(body));
    return Buffer.concat([len, body, sum]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, 2, 0, 0, 0], 8); // 8-bit RGB
  const row = Buffer.alloc(1 + width * 3, 0x80);
  row[0] = 0; // filter: none
  const raw = Buffer.concat(Array.from({ length: height }, () => row));
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', zlib.deflateSync(raw)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

async function waitDone(id) {
  const seen = [];
  for (let i = 0; i < 200; i++) {
    const v = await client.videos.retrieve(id);
    if (seen[seen.length - 1] !== v.status) seen.push(v.status);
    if (v.status === 'completed' || v.status === 'failed') return { video: v, seen };
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`video ${id} did not finish; statuses ${seen}`);
}

let video;
let remix;

await check('models.list names sora-2', async () => {
  const ids = [];
  for await (const m of client.models.list()) ids.push(m.id);
  expect(ids.includes('sora-2'), `models: ${ids}`);
});

await check('videos.create (multipart) answers a queued video', async () => {
  video = await client.videos.create({
    model: 'sora-2',
    prompt: 'a cat playing the piano',
    seconds: '4',
    size: '1280x720',
  });
  expect(video.id && video.object === 'video', JSON.stringify(video));
  expect(video.status === 'queued', `status ${video.status}`);
  expect(video.seconds === '4' && video.size === '1280x720', JSON.stringify(video));
});

await check('videos.retrieve goes queued -> in_progress -> completed', async () => {
  const { video: done, seen } = await waitDone(video.id);
  expect(done.status === 'completed' && done.progress === 100, JSON.stringify(done));
  expect(seen.includes('in_progress'), `statuses ${seen}`);
  expect(done.expires_at > done.completed_at, JSON.stringify(done));
});

await check('videos.downloadContent gives MP4 bytes', async () => {
  const res = await client.videos.downloadContent(video.id);
  const bytes = Buffer.from(await res.arrayBuffer());
  expect(res.headers.get('content-type') === 'video/mp4', res.headers.get('content-type'));
  expect(bytes.length > 1000, `only ${bytes.length} bytes`);
  expect(bytes.subarray(4, 8).toString('ascii') === 'ftyp', 'no ftyp box at offset 4');
});

await check('videos.downloadContent variant thumbnail gives an image', async () => {
  const res = await client.videos.downloadContent(video.id, { variant: 'thumbnail' });
  const bytes = Buffer.from(await res.arrayBuffer());
  expect(/^image\//.test(res.headers.get('content-type')), res.headers.get('content-type'));
  expect(bytes.length > 100, `only ${bytes.length} bytes`);
});

await check('videos.create with an input_reference file of the right size', async () => {
  const v = await client.videos.create({
    prompt: 'start from this frame',
    seconds: '4',
    size: '1280x720',
    input_reference: await toFile(png(1280, 720), 'frame.png', { type: 'image/png' }),
  });
  expect(v.status === 'queued', JSON.stringify(v));
});

await check('videos.create with an input_reference of the wrong size is a 400', async () => {
  const e = await rejects(
    client.videos.create({
      prompt: 'start from this frame',
      seconds: '4',
      size: '1280x720',
      input_reference: await toFile(png(64, 64), 'small.png', { type: 'image/png' }),
    }),
    OpenAI.BadRequestError,
    400,
  );
  expect(/must match the requested width and height/.test(e.message), e.message);
});

await check('videos.remix makes a video that names its source', async () => {
  remix = await client.videos.remix(video.id, { prompt: 'the same cat, now in the rain' });
  expect(remix.remixed_from_video_id === video.id, JSON.stringify(remix));
  expect(remix.id !== video.id, 'remix reused the id');
});

await check('videos.list pages through every video (limit 1)', async () => {
  const ids = [];
  for await (const v of client.videos.list({ limit: 1 })) ids.push(v.id);
  expect(ids.length === 3, `listed ${ids.length}: ${ids}`);
  expect(ids[0] === remix.id, 'newest first');
  expect(ids.includes(video.id), 'the first video is missing');
});

await check('videos.delete removes a completed video', async () => {
  const d = await client.videos.delete(video.id);
  expect(d.deleted === true && d.object === 'video.deleted' && d.id === video.id, JSON.stringify(d));
  await rejects(client.videos.retrieve(video.id), OpenAI.NotFoundError, 404);
});

await check('seconds outside 4/8/12 is a 400 APIError', async () => {
  const e = await rejects(
    client.videos.create({ prompt: 'five seconds please', seconds: '5' }),
    OpenAI.BadRequestError,
    400,
  );
  expect(e.code === 'invalid_value' && e.param === 'seconds', `${e.code} ${e.param}`);
});

await check('seconds as a JSON integer is a 400 invalid_type', async () => {
  const e = await rejects(
    client.post('/videos', { body: { prompt: 'json with a number', seconds: 4 } }),
    OpenAI.BadRequestError,
    400,
  );
  expect(e.code === 'invalid_type', e.code);
});

await check('a wrong key is a 401 AuthenticationError', async () => {
  const wrong = new OpenAI({ apiKey: 'sk-wrong', baseURL, maxRetries: 0 });
  await rejects(wrong.videos.list(), OpenAI.AuthenticationError, 401);
});

await check('every answer carries x-request-id', async () => {
  const { response } = await client.videos.list().withResponse();
  expect(response.headers.get('x-request-id'), 'no x-request-id');
});

console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
