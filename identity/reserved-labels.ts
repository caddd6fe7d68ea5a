/**
 * The label sets of reserved identities and the `reserved:` labels that mark them.
 */
import { type Label, LabelSet, label } from './labels.ts';
import { ReservedIdentity, type ReservedIdentityName, reservedName } from './numeric.ts';

/** The `reserved:<name>` label of a reserved identity. */
export function reservedLabel(name: ReservedIdentityName): Label {
  return label('reserved', name);
}

/** Labels of a reserved identity: `reserved:<name>`; world-ipv4/ipv6 also carry `reserved:world`. */
export function reservedIdentityLabels(name: ReservedIdentityName): LabelSet {
  const ls: Label[] = [reservedLabel(name)];
  if (name === 'world-ipv4' || name === 'world-ipv6') ls.push(reservedLabel('world'));
  return new LabelSet(ls);
}

/** Every reserved identity with its labels, ordered by number. */
export function reservedIdentities(): { id: number; labels: LabelSet }[] {
  return Object.entries(ReservedIdentity)
    .map(([name, id]) => ({ id, labels: reservedIdentityLabels(name as ReservedIdentityName) }))
    .sort((a, b) => a.id - b.id);
}

/**
 * The reserved identity a label set maps to without allocation, if any: a set that is exactly
 * one `reserved:` label (for example `reserved:host`) gets that reserved number.
 */
export function lookupReservedIdentity(labels: LabelSet): number | undefined {
  const reserved = labels.ofSource('reserved');
  if (reserved.length !== 1 || labels.size !== 1) return undefined;
  const name = reserved[0]!.key;
  const id = (ReservedIdentity as Record<string, number>)[name];
  return id !== undefined && reservedName(id) ? id : undefined;
}

/**
 * The reserved identities a single-stack cluster uses, host (1) to ingress (8): world-ipv4/-ipv6
 * stand in for world only in dual-stack clusters, and overlay-to-encrypt only with IPsec.
 */
export function singleStackReservedIdentities(): { id: number; labels: LabelSet }[] {
  return reservedIdentities().filter((r) => r.id <= ReservedIdentity.ingress);
}
