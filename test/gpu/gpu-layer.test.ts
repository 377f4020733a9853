import { describe, expect, it } from 'vitest';
import { isWgllmError } from '../../src/core/errors.js';
import { BufferPool, readBuffer, STORAGE_SLACK_BYTES, uploadBuffer, writeBuffer } from '../../src/gpu/buffers.js';
import { grid1d } from '../../src/gpu/grid.js';
import { GpuTimer } from '../../src/gpu/timer.js';
import { packUniforms, uniformByteSize, uniformStructWgsl } from '../../src/gpu/uniforms.js';
import { createGpuContext } from '../../src/gpu/context.js';
import { requestNodeAdapter } from '../../src/platform/node/index.js';
import { rmsnormSpec } from '../../src/kernels/rmsnorm.js';
import { compileKernel } from '../../src/kernels/launch.js';
import { testGpu } from '../support/gpu.js';

const ctx = await testGpu();

describe('uniforms', () => {
  it('generates the WGSL struct and packs values at 4-byte offsets, padded to 16', () => {
    const layout = { a: 'u32', b: 'f32', c: 'i32' } as const;
    expect(uniformStructWgsl(layout)).toBe('struct Params {\n  a: u32,\n  b: f32,\n  c: i32,\n}');
    expect(uniformByteSize(layout)).toBe(16);
    const view = new DataView(packUniforms(layout, { a: 7, b: 0.5, c: -3 }));
    expect([view.getUint32(0, true), view.getFloat32(4, true), view.getInt32(8, true)]).toEqual([7, 0.5, -3]);
    expect(() => packUniforms(layout, { a: 1, b: 2 })).toThrow(/c is missing/);
  });
});

describe('grid', () => {
  it('keeps every dimension within the limit and covers all workgroups', () => {
    expect(grid1d(10)).toEqual([10, 1, 1]);
    const [x, y] = grid1d(200_000);
    expect(x).toBeLessThanOrEqual(65535);
    expect(x * y).toBeGreaterThanOrEqual(200_000);
    expect(grid1d(0)).toEqual([1, 1, 1]);
  });
});

describe('buffers', () => {
  it('uploads and reads back bytes, including lengths that are not a multiple of 4', async () => {
    const data = new Uint8Array([1, 2, 3, 4, 5, 6, 7]);
    const buf = uploadBuffer(ctx, data, 'odd');
    expect(buf.size).toBe(8 + STORAGE_SLACK_BYTES); // padded to 4 bytes, plus the storage slack
    expect(new Uint8Array(await readBuffer(ctx, buf, 7))).toEqual(data);
    writeBuffer(ctx, buf, 4, new Uint8Array([9, 9, 9]));
    expect(new Uint8Array(await readBuffer(ctx, buf, 7))).toEqual(new Uint8Array([1, 2, 3, 4, 9, 9, 9]));
    buf.destroy();
  });

  it('reuses released buffers of the same size class', () => {
    const pool = new BufferPool(ctx);
    const a = pool.acquire(1000, 'a');
    pool.release(a);
    const b = pool.acquire(900, 'b');
    expect(b).toBe(a);
    const c = pool.acquire(5000, 'c');
    expect(c).not.toBe(a);
    pool.destroy();
  });
});

describe('pipeline cache', () => {
  const shape = { act: 'f32', numRows: 4, rowLen: 64, eps: 1e-6, mode: 'plain' } as const;

  it('compiles a (source, constants) pair once and then hits', async () => {
    const before = ctx.pipelines.compiled;
    const a = await compileKernel(ctx, rmsnormSpec, shape, { wg: 64, reduce: 'plain' });
    const b = await compileKernel(ctx, rmsnormSpec, { ...shape, numRows: 99 }, { wg: 64, reduce: 'plain' });
    expect(b).toBe(a); // numRows is a launch-time size, not part of the program
    const c = await compileKernel(ctx, rmsnormSpec, shape, { wg: 128, reduce: 'plain' });
    expect(c).not.toBe(a);
    expect(ctx.pipelines.compiled - before).toBeLessThanOrEqual(2);
  });

  it('reports WGSL errors as shader_compile with the line and message', async () => {
    const err = await ctx.pipelines
      .get({ source: '@compute @workgroup_size(1) fn main() { let x: u32 = 1.5; }', entryPoint: 'main', constants: {}, bindings: [] })
      .catch((e: unknown) => e);
    expect(isWgllmError(err, 'shader_compile')).toBe(true);
    expect(String((err as Error).message)).toMatch(/line 1/);
  });

  it('keeps pipelines per device: a second context compiles its own', async () => {
    const other = await createGpuContext(await requestNodeAdapter());
    try {
      expect(other.pipelines.size).toBe(0);
      await compileKernel(other, rmsnormSpec, shape, { wg: 64, reduce: 'plain' });
      expect(other.pipelines.compiled).toBe(1);
    } finally {
      other.destroy();
    }
  });
});

describe('timer', () => {
  for (const forceWallClock of [false, true]) {
    it(`times a dispatch (${forceWallClock ? 'wall clock' : 'timestamps when available'})`, async () => {
      const timer = new GpuTimer(ctx, { forceWallClock });
      expect(timer.usesTimestamps).toBe(!forceWallClock && ctx.info.features.timestampQuery);
      const cached = await compileKernel(ctx, rmsnormSpec, { act: 'f32', numRows: 1, rowLen: 1, eps: 1e-6, mode: 'plain' }, { wg: 32, reduce: 'plain' });
      const ms = await timer.time((pass) => {
        pass.setPipeline(cached.pipeline);
      }, 3);
      expect(ms).toBeGreaterThan(0);
      expect(ms).toBeLessThan(10_000);
      timer.destroy();
    });
  }
});

describe('device loss', () => {
  it('turns use after loss into a clear device_lost error', async () => {
    const other = await createGpuContext(await requestNodeAdapter());
    other.device.destroy(); // loss without our destroy(): as a driver reset would look
    await other.device.lost;
    await new Promise((r) => setTimeout(r, 0));
    expect(other.isLost).toBe(true);
    let err: unknown;
    try {
      uploadBuffer(other, new Uint8Array(4), 'after-loss');
    } catch (e) {
      err = e;
    }
    expect(isWgllmError(err, 'device_lost')).toBe(true);
    expect(String((err as Error).message)).toMatch(/Create a new engine/);
  });
});
