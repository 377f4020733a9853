/**
 * WebGPU's usage/map-mode flag values. The globals GPUBufferUsage/GPUMapMode exist in browsers
 * but not in Node unless Dawn's globals are installed; these constants are fixed by the spec,
 * so the code below never depends on which runtime set up the globals.
 */
export const GPUBufferUsageConst = {
  MAP_READ: 0x0001,
  MAP_WRITE: 0x0002,
  COPY_SRC: 0x0004,
  COPY_DST: 0x0008,
  INDEX: 0x0010,
  VERTEX: 0x0020,
  UNIFORM: 0x0040,
  STORAGE: 0x0080,
  INDIRECT: 0x0100,
  QUERY_RESOLVE: 0x0200,
} as const;

export const GPUMapModeConst = { READ: 0x0001, WRITE: 0x0002 } as const;
