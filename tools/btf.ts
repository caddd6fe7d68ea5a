// Reads struct layouts and read-only variable offsets from a compiled BPF object, using bpftool's
// JSON BTF dump and llvm-nm's symbol table. Shared by the codec generator and the layout test.
import { execFileSync } from 'node:child_process';

/** How a struct member is encoded: scalar width/sign/byte order, or an array of such scalars. */
export interface BtfField {
  readonly name: string;
  readonly offset: number;
  readonly size: number;
  readonly elemSize: number;
  readonly count: number;
  readonly signed: boolean;
  readonly bigEndian: boolean;
  readonly isArray: boolean;
}

/** A struct's total size and its members in declaration order. */
export interface BtfStruct {
  readonly name: string;
  readonly size: number;
  readonly fields: readonly BtfField[];
}

interface RawType {
  id: number;
  kind: string;
  name: string;
  type_id?: number;
  size?: number;
  nr_elems?: number;
  encoding?: string;
  members?: { name: string; type_id: number; bits_offset: number; bitfield_size?: number }[];
  vars?: { type_id: number }[];
}

interface Scalar {
  size: number;
  signed: boolean;
  bigEndian: boolean;
}

/** Parsed BTF of one object file. */
export class ObjectBtf {
  private readonly types = new Map<number, RawType>();

  /** Parses `bpftool btf dump file <path> -j` output. */
  constructor(json: string) {
    const doc = JSON.parse(json) as { types: RawType[] };
    for (const t of doc.types) this.types.set(t.id, t);
  }

  /** Runs bpftool on an object file and parses its BTF. */
  static fromObject(path: string): ObjectBtf {
    return new ObjectBtf(execFileSync('bpftool', ['btf', 'dump', 'file', path, '-j'], { encoding: 'utf8' }));
  }

  private scalar(id: number): Scalar {
    let bigEndian = false;
    let t = this.types.get(id);
    while (t && (t.kind === 'TYPEDEF' || t.kind === 'VOLATILE' || t.kind === 'CONST')) {
      if (t.kind === 'TYPEDEF' && /^__be(16|32|64)$/.test(t.name)) bigEndian = true;
      t = this.types.get(t.type_id ?? 0);
    }
    if (!t || (t.kind !== 'INT' && t.kind !== 'ENUM')) throw new Error(`btf: type ${id} is not a scalar`);
    return { size: t.size ?? 0, signed: t.encoding === 'SIGNED', bigEndian };
  }

  private resolve(id: number): RawType {
    let t = this.types.get(id);
    while (t && (t.kind === 'TYPEDEF' || t.kind === 'VOLATILE' || t.kind === 'CONST')) t = this.types.get(t.type_id ?? 0);
    if (!t) throw new Error(`btf: unknown type ${id}`);
    return t;
  }

  /** Variable names declared in a DATASEC, in order. */
  sectionVarNames(section: string): string[] {
    const sec = [...this.types.values()].find((x) => x.kind === 'DATASEC' && x.name === section);
    return (sec?.vars ?? []).map((v) => this.types.get(v.type_id)?.name ?? '');
  }

  /** The layout of a named struct; throws when absent or when it has bitfields. */
  struct(name: string): BtfStruct {
    const t = [...this.types.values()].find((x) => x.kind === 'STRUCT' && x.name === name);
    if (!t) throw new Error(`btf: struct ${name} not found`);
    const fields = (t.members ?? []).map((m): BtfField => {
      if (m.bitfield_size || m.bits_offset % 8) throw new Error(`btf: ${name}.${m.name} is a bitfield`);
      const r = this.resolve(m.type_id);
      if (r.kind === 'ARRAY') {
        const s = this.scalar(r.type_id ?? 0);
        const count = r.nr_elems ?? 0;
        return { name: m.name, offset: m.bits_offset / 8, size: s.size * count, elemSize: s.size, count,
          signed: s.signed, bigEndian: s.bigEndian, isArray: true };
      }
      const s = this.scalar(m.type_id);
      return { name: m.name, offset: m.bits_offset / 8, size: s.size, elemSize: s.size, count: 1,
        signed: s.signed, bigEndian: s.bigEndian, isArray: false };
    });
    return { name, size: t.size ?? 0, fields };
  }
}

/** Names of the variables in a data section of the object (e.g. the map definitions in `.maps`). */
export function sectionVars(btf: ObjectBtf, section: string): string[] {
  return btf.sectionVarNames(section);
}

/** Offsets of read-only globals (section .rodata) in an object file, from its symbol table. */
export function rodataOffsets(path: string): Map<string, number> {
  const out = new Map<string, number>();
  const text = execFileSync('llvm-nm', ['--defined-only', path], { encoding: 'utf8' });
  for (const line of text.split('\n')) {
    const m = /^([0-9a-f]+) [Rr] (\S+)$/.exec(line.trim());
    if (m && m[1] && m[2]) out.set(m[2], parseInt(m[1], 16));
  }
  return out;
}
