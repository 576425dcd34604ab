import type { VmSize } from "../../../src/config/azure-batch.js";

/**
 * Picks the VM size for a task: the one `backend_parameters` names (checked against the catalog),
 * else the cheapest size that fits cpu_cores, ram_gb and disk_gb at the task's priority.
 */
export interface Needs {
  cpuCores: number;
  ramGb: number;
  diskGb: number;
  lowPriority: boolean;
}

export type VmChoice = { ok: true; size: VmSize } | { ok: false; reason: string };

function price(size: VmSize, lowPriority: boolean): number {
  return lowPriority ? (size.lowPriorityPricePerHour ?? size.pricePerHour) : size.pricePerHour;
}

function fits(size: VmSize, needs: Needs): boolean {
  return size.cores >= needs.cpuCores && size.memoryGb >= needs.ramGb && size.diskGb >= needs.diskGb;
}

export function chooseVmSize(catalog: readonly VmSize[], needs: Needs, requested?: string): VmChoice {
  if (requested !== undefined) {
    const size = catalog.find((s) => s.name.toLowerCase() === requested.toLowerCase());
    if (size === undefined) return { ok: false, reason: `vm_size "${requested}" is not in the VM size catalog` };
    if (!fits(size, needs)) {
      return { ok: false, reason: `vm_size ${size.name} (${size.cores} cores, ${size.memoryGb} GB RAM, ${size.diskGb} GB disk) is too small for the task's resources` };
    }
    return { ok: true, size };
  }
  let best: VmSize | undefined;
  for (const size of catalog) {
    if (!fits(size, needs)) continue;
    if (best === undefined || price(size, needs.lowPriority) < price(best, needs.lowPriority)) best = size;
  }
  if (best === undefined) {
    return { ok: false, reason: `no VM size in the catalog has ${needs.cpuCores} cores, ${needs.ramGb} GB RAM and ${needs.diskGb} GB disk` };
  }
  return { ok: true, size: best };
}
