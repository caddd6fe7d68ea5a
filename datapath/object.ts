// A BPF object file between open and close: inspect maps/programs, set load-time constants, reuse
// existing maps, load (verifier failures become VerifierError with the log).
import { native, type NativeMapDesc, type NativeProgDesc } from './native.ts';
import { VerifierError, isErrno } from './errors.ts';

/** An opened (and later loaded) BPF ELF object. Owns every fd it lists until close(). */
export class BpfObject implements Disposable {
  private closed = false;

  private constructor(private readonly handle: number, readonly path: string) {}

  /** Opens and parses an object file; nothing is created in the kernel yet. */
  static open(path: string): BpfObject {
    return new BpfObject(native().objOpen(path), path);
  }

  /** Maps as declared (fd -1 before load). Internal data sections have names containing a dot. */
  maps(): NativeMapDesc[] {
    return native().objMaps(this.handle);
  }

  /** Programs (fd -1 before load). */
  progs(): NativeProgDesc[] {
    return native().objProgs(this.handle);
  }

  /** Writes bytes at offset into the object's .rodata before load. */
  setRodata(offset: number, bytes: Buffer): void {
    const rodata = this.maps().find((m) => m.name.endsWith('.rodata'));
    if (!rodata) throw new Error(`${this.path}: no .rodata section`);
    native().objSetInitialValue(this.handle, rodata.name, offset, bytes);
  }

  /** Makes the object use an existing map fd instead of creating the map (fd is duplicated). */
  reuseMap(name: string, fd: number): void {
    native().objReuseMapFd(this.handle, name, fd);
  }

  /** Whether the object declares a map of this name. */
  hasMap(name: string): boolean {
    return this.maps().some((m) => m.name === name);
  }

  /** Overrides a map's max_entries before load. */
  setMaxEntries(name: string, maxEntries: number): void {
    native().objSetMaxEntries(this.handle, name, maxEntries);
  }

  /** Creates maps and loads programs. A rejected program throws VerifierError carrying the verifier log. */
  load(): void {
    try {
      native().objLoad(this.handle);
    } catch (err) {
      if (!isErrno(err)) throw err;
      const e = err as unknown as { verifierLog?: string; libbpfLog?: string };
      throw new VerifierError(`load ${this.path}: ${err.message}`, err.code, e.verifierLog ?? '', e.libbpfLog ?? '', { cause: err });
    }
  }

  /** The loaded map's fd (owned by this object). */
  mapFd(name: string): number {
    const d = this.maps().find((m) => m.name === name);
    if (!d || d.fd < 0) throw new Error(`${this.path}: map ${name} is not loaded`);
    return d.fd;
  }

  /** The loaded program's fd (owned by this object). */
  progFd(name: string): number {
    const p = this.progs().find((x) => x.name === name);
    if (!p || p.fd < 0) throw new Error(`${this.path}: program ${name} is not loaded`);
    return p.fd;
  }

  /** Closes the object and the fds it owns; idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    native().objClose(this.handle);
  }

  /** Same as close(). */
  [Symbol.dispose](): void {
    this.close();
  }
}
