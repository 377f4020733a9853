// Bindings and constants of the paged-attention kernels (attention.wgsl, attention-decode.wgsl,
// attention-tensor.wgsl).
// One declaration for both: the WGSL backend binds both kernels' bind groups to the same buffers,
// and their split partials feed the same reduce kernel. See attention.wgsl for each binding's
// layout. Prelude library; needs act_t, Params and the KV library's kv_chunk.

@group(0) @binding(0) var<storage, read> q: array<vec4<act_t>>;
@group(0) @binding(1) var<storage, read> kCache: array<kv_chunk>;
@group(0) @binding(2) var<storage, read> vCache: array<kv_chunk>;
@group(0) @binding(3) var<storage, read> blockTables: array<u32>;
@group(0) @binding(4) var<storage, read> queryStartLoc: array<u32>;
@group(0) @binding(5) var<storage, read> seqLens: array<u32>;
@group(0) @binding(6) var<storage, read_write> out: array<vec4<act_t>>;
@group(0) @binding(7) var<storage, read_write> partOut: array<vec4<f32>>;
@group(0) @binding(8) var<storage, read_write> partMl: array<f32>;
@group(0) @binding(9) var<uniform> params: Params;

const MASKED: f32 = -3.0e38;   // logit of a masked key; partial max of an empty split
const VALID_MIN: f32 = -1.0e38; // anything above is a real logit
const LOG2E: f32 = 1.4426950408889634;
