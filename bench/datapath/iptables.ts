// iptables baseline: N rules in the node namespace's FORWARD chain that the traffic must walk
// past before its ACCEPT (iptables-nft, Debian's default backend).
import { execFileSync } from 'node:child_process';

/** Installs n-1 non-matching rules and one ACCEPT for the pods' subnets in ns's FORWARD chain. */
export function installRules(ns: string, n: number): void {
  const lines = ['*filter', ':FORWARD ACCEPT [0:0]'];
  for (let i = 0; i < n - 1; i++) {
    lines.push(`-A FORWARD -s 172.${16 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}/32 -p tcp --dport 9 -j DROP`);
  }
  lines.push('-A FORWARD -s 10.231.0.0/16 -d 10.231.0.0/16 -j ACCEPT', 'COMMIT', '');
  execFileSync('nsenter', [`--net=/run/netns/${ns}`, 'iptables-nft-restore'], { input: lines.join('\n') });
}

/** Removes every rule from ns's filter table. */
export function flushRules(ns: string): void {
  execFileSync('nsenter', [`--net=/run/netns/${ns}`, 'iptables-nft', '-F', 'FORWARD']);
}
