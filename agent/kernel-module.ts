/**
 * The node's kernel side: the reconciled kernel tables' view (health, pressure, Warning Events), the
 * endpoint enforcer (shared programs and maps, endpoints, ipcache) and the service LB state, built
 * without touching the kernel. Its start hook loads or reopens the BPF programs and maps from the
 * pins, binds the LB tables to their maps and attaches socket-level and node-device service
 * translation; its stop hook releases fds only (the kernel keeps enforcing).
 */
import type { KubeConfig, KubernetesObject } from '@kubernetes/client-node';
import { join } from 'node:path';
import { mapCapacity } from '../datapath/maps/map-ops.ts';
import { ReservedIdentity } from '../identity/numeric.ts';
import type { PolicyEngine } from '../policy/engine.ts';
import { realClock, sleep } from '../runtime/clock.ts';
import { EventRecorder } from '../runtime/events.ts';
import { eventsV1Sink } from '../runtime/kube-event-sink.ts';
import type { Lifecycle } from '../runtime/lifecycle.ts';
import type { Logger } from '../runtime/logger.ts';
import type { Runnable } from '../runtime/manager.ts';
import { EndpointEnforcer } from './endpoint-enforcer.ts';
import { KERNEL_HEALTH_FILE, KernelTables } from './kernel-tables.ts';
import { LbSync, SERVICES_STATE_FILE } from './lb-sync.ts';
import { attachNodeDevice } from './netdev-attach.ts';
import type { PodIdentity } from './pod-identity.ts';
import { attachSocketLb } from './socket-lb.ts';

/** What the kernel side needs. */
export interface KernelModuleDeps {
  kc: KubeConfig;
  nodeName: string;
  nodeIP: string;
  /** bpffs folder for this node's pins. */
  pinRoot: string;
  stateDir: string;
  engine: PolicyEngine;
  identity: PodIdentity;
  /** Policy entries allowed per endpoint (`bpf-policy-map-max`). */
  policyMapMax?: number;
  /** Runs interface work in the node's namespace (tests; the agent itself runs inside it). */
  inNodeNetns?: <T>(fn: () => T) => T;
  /** The node's cgroup v2 directory: socket-level service translation for the processes in it. */
  socketLbCgroup?: string;
  /** false: no programs on the node device. */
  nodeDevice?: false;
  lifecycle: Lifecycle;
  log: Logger;
}

/** The kernel side's parts. */
export interface KernelModule {
  kernel: KernelTables;
  enforcer: EndpointEnforcer;
  lb: LbSync;
  /** The node, owner of its shared maps (Events about them). */
  nodeOwner: KubernetesObject;
  /** Refreshes every reconciled map against its table and prunes it, every `intervalMs` once every module started and `started()`. */
  refresh(started: () => boolean, intervalMs: number): Runnable;
}

/** Builds the kernel side and registers its start and stop hooks. */
export function kernelModule(d: KernelModuleDeps): KernelModule {
  const { log } = d;
  const nodeOwner = { apiVersion: 'v1', kind: 'Node', metadata: { name: d.nodeName } };
  const kernel = new KernelTables(log.child({ component: 'kernel-tables' }),
    new EventRecorder({ sink: eventsV1Sink(d.kc), controller: 'ciliate.io/agent', instance: d.nodeName, log }), join(d.stateDir, KERNEL_HEALTH_FILE));
  const enforcer = new EndpointEnforcer({
    pinRoot: d.pinRoot, stateDir: d.stateDir, engine: d.engine, log: log.child({ component: 'enforcer' }),
    podFacts: d.identity.podFacts, allocateIdentity: d.identity.allocateIdentity, kernelTables: kernel, nodeOwner,
    ...(d.policyMapMax ? { policyMapMax: d.policyMapMax } : {}),
    ...(d.inNodeNetns ? { inNodeNetns: d.inNodeNetns } : {}),
  });
  // Whatever no other row claims is outside the cluster.
  enforcer.ipcache.upsert('world', '0.0.0.0/0', { identity: ReservedIdentity.world });
  const lb = new LbSync(undefined, join(d.stateDir, SERVICES_STATE_FILE), undefined, log.child({ component: 'lb' }), kernel.observer);

  let netdev: ReturnType<typeof attachNodeDevice> | undefined;
  d.lifecycle.append({
    name: 'kernel',
    start() {
      enforcer.open();
      lb.open(enforcer.sharedMaps.lb);
      for (const [name, table] of Object.entries(lb.tables) as [keyof typeof lb.tables, LbSync['tables'][keyof LbSync['tables']]][]) {
        kernel.register({ mapName: table.name, group: table.name, table, capacity: mapCapacity(enforcer.sharedMaps.lb[name]), owner: nodeOwner });
      }
      if (d.socketLbCgroup) {
        try {
          attachSocketLb({ pinRoot: d.pinRoot, cgroupPath: d.socketLbCgroup, log });
        } catch (err) {
          log.error('socket-level service translation unavailable; the per-packet path serves every Service', { err: (err as Error).message });
        }
      }
      netdev = d.nodeDevice === false ? undefined : attachNodeDevice({ pinRoot: d.pinRoot, nodeIp: d.nodeIP, log, ...(d.inNodeNetns ? { inNodeNetns: d.inNodeNetns } : {}) });
    },
    stop() {
      netdev?.release();
      lb.reconciler.disable();
      lb.flushState();
      enforcer.close();
    },
  });

  return {
    kernel, enforcer, lb, nodeOwner,
    refresh: (started, intervalMs) => ({
      needLeaderElection: false,
      async start(signal) {
        await d.lifecycle.started;
        while (await sleep(realClock, intervalMs, signal)) {
          if (!started()) continue;
          enforcer.reconcile();
          lb.reconcile();
        }
      },
    }),
  };
}
