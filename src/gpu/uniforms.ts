/**
 * Uniform structs are declared once, in TypeScript, as an ordered list of 4-byte scalar fields;
 * the WGSL struct text and the byte packing are both generated from that one declaration, so
 * the two can never disagree. Only 4-byte scalars are allowed, which keeps WGSL's layout rules
 * trivial (each field at offset 4*i; the struct padded to 16 bytes).
 */
export type UniformScalar = 'u32' | 'i32' | 'f32';
export type UniformLayout = Readonly<Record<string, UniformScalar>>;

export function uniformStructWgsl(layout: UniformLayout, name = 'Params'): string {
  const fields = Object.entries(layout).map(([k, t]) => `  ${k}: ${t},`);
  if (fields.length === 0) fields.push('  _unused: u32,');
  return `struct ${name} {\n${fields.join('\n')}\n}`;
}

export function uniformByteSize(layout: UniformLayout): number {
  const n = Math.max(1, Object.keys(layout).length);
  return Math.ceil((n * 4) / 16) * 16;
}

/** Packs values into `target` (or a new buffer); every declared field must be given. */
export function packUniforms(
  layout: UniformLayout,
  values: Readonly<Record<string, number>>,
  target: ArrayBuffer = new ArrayBuffer(uniformByteSize(layout)),
): ArrayBuffer {
  const view = new DataView(target);
  let offset = 0;
  for (const [k, t] of Object.entries(layout)) {
    const v = values[k];
    if (v === undefined || !Number.isFinite(v)) throw new Error(`uniform ${k} is missing or not finite (${v})`);
    if (t === 'f32') view.setFloat32(offset, v, true);
    else if (t === 'i32') view.setInt32(offset, v, true);
    else view.setUint32(offset, v, true);
    offset += 4;
  }
  return target;
}
