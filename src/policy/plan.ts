// The mount plan: everything the kernel and the mount table will be given,
// decided once from the request and who asks, before anything is attached. The
// attach step only executes it. Pure.

import {
  fsType, fsSource, kernelData, kernelParams, legacySubtypeFallback, mountAttributes, mountRecord,
  superblockFlags, type MountRequest,
} from "./options.ts";

export type MountPlan = {
  type: string;
  source: string;
  // For kernels that reject a subtype (ENODEV from mount(2), EINVAL/ENOPARAM
  // from fsconfig): the legacy encoding.
  legacy: { type: string; source: string };
  hasSubtype: boolean;
  blkdev: boolean;
  autoUnmount: boolean;
  flags: number; // MS_* for mount(2)
  attributes: number; // MOUNT_ATTR_* for fsmount()
  superblockFlags: string[]; // fsconfig flags
  data: string; // mount(2) option data
  params: Array<[string, string | undefined]>; // fsconfig (key, value)
  subtype?: string;
  record: string; // options for the user-space mount table (utab)
};

export type PlanInput = {
  request: MountRequest;
  fuseFd: number;
  rootmode: number;
  uid: number;
  gid: number;
  device: string;
  userName: string | undefined; // undefined for root: no user= record
  xOptions: string;
};

export function planMount(i: PlanInput): MountPlan {
  const req = i.request;
  const identity = { fd: i.fuseFd, rootmode: i.rootmode, uid: i.uid, gid: i.gid };
  return {
    type: fsType(req),
    source: fsSource(req, i.device),
    legacy: legacySubtypeFallback(req),
    hasSubtype: req.subtype !== undefined,
    blkdev: req.blkdev,
    autoUnmount: req.autoUnmount,
    flags: req.flags,
    attributes: mountAttributes(req.flags),
    superblockFlags: superblockFlags(req.flags),
    data: kernelData(req, identity),
    params: kernelParams(req, identity),
    ...(req.subtype !== undefined ? { subtype: req.subtype } : {}),
    record: mountRecord(req, i.userName, i.xOptions),
  };
}

// The kernel takes at most a page less one byte of mount(2) data; refuse rather
// than let it cut group_id=1000 down to group_id=1. libfuse says it twice when
// its retry without group_id would not fit either; the output matches it.
export function dataTooLong(plan: MountPlan, gid: number, pageSize: number): { tooLong: boolean; twice: boolean } {
  const max = pageSize - 1;
  if (plan.data.length <= max) return { tooLong: false, twice: false };
  return { tooLong: true, twice: plan.data.length - `,group_id=${gid}`.length > max };
}
