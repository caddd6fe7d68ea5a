// The datapath's public surface for the agent: load endpoints, attach them, reconcile maps, read events.
export { loadEndpoint, mapPinPath, LoadedEndpoint, ENDPOINT_OBJECT, SHARED_MAPS, ENDPOINT_MAPS } from './loader.ts';
export type { EndpointSpec, LoadOptions, EndpointMaps, EndpointProgs } from './loader.ts';
export { attachEndpoint, attachCgroup, InterfaceAttachment, CgroupAttachType } from './attach.ts';
export type { AttachMode } from './attach.ts';
export { BpfObject } from './object.ts';
export { BpfMap, MapType, UpdateFlags } from './maps/bpf-map.ts';
export { ipcacheKey, ipcacheValue, ipcacheEntry, ipcacheKeyCidr } from './maps/ipcache.ts';
export type { IpcacheMap } from './maps/ipcache.ts';
export { policyEntries, portRangeToPrefixes, setEnforcement, readPolicyStats, POLICY_MAP_MAX } from './maps/policy.ts';
export type { PolicyRule, PolicyMap, PolicyStatsMap, PolicyConfigMap } from './maps/policy.ts';
export { readMetrics, readEventStats } from './maps/metrics.ts';
export type { MetricsRow } from './maps/metrics.ts';
export { FlowBatchReader, FlowEventBatch, FlowEventReader, decodeBatch } from './events.ts';
export type { FlowEvent, FlowReaderOptions } from './events.ts';
export { VerifierError, NotSupportedError, isErrno } from './errors.ts';
export { ensureBpffs, makePinDir, removePinDir } from './bpffs.ts';
export { inNetns } from './netns.ts';
export * from './constants.ts';
