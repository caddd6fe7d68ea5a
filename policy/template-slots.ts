/**
 * Template slots: an endpoint's templates grouped by selector, one slot (one bit) per selector.
 * The bits of the slots selecting an identity form its *signature*; identities with equal
 * signatures are selected by the same templates and so get the same entries. Freed bits are
 * reused, so signatures stay as short as the number of selectors in use.
 */
import { markSelected } from './sorted-ids.ts';
import type { Template } from './template-entries.ts';

interface Slot {
  readonly bit: number;
  readonly templates: Set<Template>;
  /** The selection of a fixed-identity target (one not kept by the selector cache). */
  readonly fixed?: readonly number[];
}

/** An identity's signature: a number for up to 32 slots, else the words as text. */
export type Signature = number | string;

/** Signatures of a list of identities (see {@link TemplateSlots.signatures}). */
export interface Signatures {
  /** `words` 32-bit words per identity, slot bit `b` in word `b >> 5`. */
  readonly bits: Uint32Array;
  readonly words: number;
}

/** The slots of one endpoint's templates. */
export class TemplateSlots {
  readonly #bySelector = new Map<string, Slot>();
  readonly #byBit: (Slot | undefined)[] = [];

  /** True when some template uses selector `selKey`. */
  has(selKey: string): boolean {
    return this.#bySelector.has(selKey);
  }

  /** The selection of a fixed-identity selector, or undefined for a selector-cache one. */
  fixedSelection(selKey: string): readonly number[] | undefined {
    return this.#bySelector.get(selKey)?.fixed;
  }

  /** Adds a template to its selector's slot; `fixed` is the selection of a fixed-identity target. */
  add(t: Template, fixed?: readonly number[]): void {
    let slot = this.#bySelector.get(t.selKey);
    if (!slot) {
      let bit = this.#byBit.indexOf(undefined);
      if (bit < 0) bit = this.#byBit.length;
      slot = { bit, templates: new Set(), ...(fixed && { fixed }) };
      this.#byBit[bit] = slot;
      this.#bySelector.set(t.selKey, slot);
    }
    slot.templates.add(t);
  }

  /** Removes a template; its slot goes when it was the last one. */
  remove(t: Template): void {
    const slot = this.#bySelector.get(t.selKey);
    if (!slot?.templates.delete(t) || slot.templates.size > 0) return;
    this.#bySelector.delete(t.selKey);
    this.#byBit[slot.bit] = undefined;
    while (this.#byBit.length > 0 && this.#byBit[this.#byBit.length - 1] === undefined) this.#byBit.pop();
  }

  /**
   * The signatures of `ids` (sorted), given each selector's current sorted selection
   * (`selections(selKey)`; fixed-identity slots use their own).
   */
  signatures(ids: readonly number[], selections: (selKey: string) => readonly number[]): Signatures {
    const words = Math.max(1, Math.ceil(this.#byBit.length / 32));
    const bits = new Uint32Array(ids.length * words);
    for (const [selKey, slot] of this.#bySelector) {
      markSelected(ids, slot.fixed ?? selections(selKey), bits, words, slot.bit >>> 5, 1 << (slot.bit & 31));
    }
    return { bits, words };
  }

  /** The signature of the `i`-th identity. */
  static signatureAt({ bits, words }: Signatures, i: number): Signature {
    return words === 1 ? bits[i]! : bits.subarray(i * words, (i + 1) * words).join(',');
  }

  /** The templates of every slot in the `i`-th identity's signature. */
  templatesAt({ bits, words }: Signatures, i: number): Template[] {
    const out: Template[] = [];
    for (let w = 0; w < words; w++) {
      for (let v = bits[i * words + w]!; v !== 0; v &= v - 1) {
        for (const t of this.#byBit[w * 32 + 31 - Math.clz32(v & -v)]!.templates) out.push(t);
      }
    }
    return out;
  }
}
