import type { DeviceInfo } from '../../gpu/device-info.js';
import { WGLLM_VERSION } from '../../version.js';
import { GPU_OPTIONS, GPU_OPTIONS_HELP, parse } from '../args.js';
import { openGpu } from '../gpu.js';

export const INFO_HELP = `wgllm info: print the GPU adapter, its features and limits

Usage: wgllm info [--json] [GPU options]

  --json        print the DeviceInfo as JSON
${GPU_OPTIONS_HELP}`;

export function formatDeviceInfo(info: DeviceInfo): string {
  const yes = (b: boolean) => (b ? 'yes' : 'no');
  const lines = [
    `wgllm ${WGLLM_VERSION}`,
    `adapter       ${info.vendor} / ${info.architecture} / ${info.device}${info.description ? ` (${info.description})` : ''}`,
    `runtime       ${info.runtime}${info.isFallbackAdapter ? ' (fallback adapter)' : ''}`,
    `adapter key   ${info.adapterKey}`,
    'features',
    `  shader-f16        ${yes(info.features.f16)}   (f16 activation path ${info.features.f16 ? 'available' : 'unavailable: f32 path is used'})`,
    `  subgroups         ${yes(info.features.subgroups)}${info.features.subgroups ? `   (size ${info.subgroupMinSize}..${info.subgroupMaxSize})` : ''}`,
    `  timestamp-query   ${yes(info.features.timestampQuery)}`,
    `  subgroup-matrix   ${yes(info.features.subgroupMatrix)}`,
  ];
  for (const c of info.subgroupMatrixConfigs) {
    lines.push(`    ${c.componentType} x ${c.componentType} -> ${c.resultComponentType}  M=${c.M} N=${c.N} K=${c.K}`);
  }
  lines.push('limits');
  for (const [k, v] of Object.entries(info.limits)) lines.push(`  ${k.padEnd(36)} ${v}`);
  return lines.join('\n');
}

export async function infoCommand(argv: string[]): Promise<number> {
  const { values } = parse(argv, { ...GPU_OPTIONS, json: { type: 'boolean' } });
  if (values.help) {
    console.log(INFO_HELP);
    return 0;
  }
  const ctx = await openGpu(values);
  try {
    console.log(values.json ? JSON.stringify(ctx.info, null, 2) : formatDeviceInfo(ctx.info));
  } finally {
    ctx.destroy();
  }
  return 0;
}
