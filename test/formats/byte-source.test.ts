/** ByteSource implementations: in-memory and Node file. */
import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { bytesSource } from '../../src/core/byte-source.js';
import { folderOpener, openFileSource } from '../../src/platform/node/file-source.js';
import { expectError, modelBytes, modelPath } from './helpers.js';

describe('bytesSource', () => {
  it('reads copies of ranges and refuses bad ranges and reads after close', async () => {
    const data = Uint8Array.from({ length: 100 }, (_, i) => i);
    const s = bytesSource('mem', data);
    expect(s.size).toBe(100);
    const r = await s.read(10, 5);
    expect(Array.from(r)).toEqual([10, 11, 12, 13, 14]);
    r[0] = 99;
    expect(data[10]).toBe(10);
    expect((await s.read(100, 0)).length).toBe(0);
    await expectError(s.read(96, 5), 'invalid_argument', /mem/, /past the end/);
    await expectError(s.read(-1, 2), 'invalid_argument', /bad read range/);
    await expectError(s.read(1.5, 2), 'invalid_argument', /bad read range/);
    await s.close();
    await expectError(s.read(0, 1), 'invalid_argument', /after close/);
  });
});

describe('openFileSource', () => {
  it('reads ranges of a file without reading it whole', async () => {
    const s = await openFileSource(modelPath('stories260K/stories260K.bin'));
    const whole = modelBytes('stories260K/stories260K.bin');
    expect(s.size).toBe(whole.length);
    for (const [o, n] of [[0, 28], [1000, 4096], [whole.length - 7, 7], [12345, 0]] as const) {
      expect(Buffer.from(await s.read(o, n)).equals(whole.subarray(o, o + n))).toBe(true);
    }
    await expectError(s.read(whole.length - 3, 4), 'invalid_argument', /past the end/);
    // readInto fills a caller's view (the weight upload reuses one buffer for every chunk)
    const buf = new Uint8Array(5000).fill(0xee);
    await s.readInto!(1000, buf.subarray(10, 10 + 4096));
    expect(Buffer.from(buf.subarray(10, 10 + 4096)).equals(whole.subarray(1000, 1000 + 4096))).toBe(true);
    expect([buf[9], buf[10 + 4096]]).toEqual([0xee, 0xee]);
    await expectError(s.readInto!(whole.length - 3, new Uint8Array(4)), 'invalid_argument', /past the end/);
    await s.close();
    await s.close(); // idempotent
    await expectError(s.read(0, 1), 'invalid_argument', /after close/);
    await expectError(s.readInto!(0, new Uint8Array(1)), 'invalid_argument', /after close/);
  });

  it('maps filesystem errors to WgllmError codes', async () => {
    await expectError(openFileSource('/nonexistent/x.gguf'), 'not_found', /\/nonexistent\/x\.gguf/);
    await expectError(openFileSource(modelPath('stories260K')), 'invalid_argument', /directory/);
  });

  it('folderOpener opens files inside the folder only', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'wgllm-fs-'));
    mkdirSync(path.join(dir, 'sub'));
    writeFileSync(path.join(dir, 'sub', 'a.txt'), 'hello');
    const open = folderOpener(dir);
    const s = await open('sub/a.txt');
    expect(new TextDecoder().decode(await s.read(0, 5))).toBe('hello');
    await s.close();
    await expectError(open('missing.json'), 'not_found');
    await expectError(open('../etc/passwd'), 'invalid_argument', /leaves the model folder/);
    await expectError(open('/etc/passwd'), 'invalid_argument', /leaves the model folder/);
  });
});
