/**
 * Entries of a git index file (`.git/index`), versions 2, 3 and 4 (see gitformat-index(5)): path, mode,
 * merge stage and object id. Used to find conflicted paths and submodules (gitlinks); extensions after the
 * entries are not read.
 */

export interface IndexEntry {
  readonly path: string
  /** 0o100644, 0o100755, 0o120000 (symbolic link), 0o160000 (gitlink: a submodule), 0o040000 (sparse dir). */
  readonly mode: number
  /** 0 when merged; 1, 2, 3 for the base, ours and theirs of a conflict. */
  readonly stage: number
  readonly oid: string
  /** The file's stat data when it was staged (seconds and nanoseconds, 32-bit fields as git stores them). */
  readonly ctimeSeconds: number
  readonly ctimeNanoseconds: number
  readonly mtimeSeconds: number
  readonly mtimeNanoseconds: number
  readonly dev: number
  readonly ino: number
  readonly uid: number
  readonly gid: number
  readonly size: number
  /** "assume unchanged": git takes the work tree file as unchanged. */
  readonly assumeValid: boolean
  /** Outside a sparse checkout: git takes the work tree file as unchanged. */
  readonly skipWorktree: boolean
  /** Added with `git add -N`: known, not staged. */
  readonly intentToAdd: boolean
}

export const gitlinkMode = 0o160000

export class IndexFormatError extends Error {}

/** git's offset varint (varint.c decode_varint). */
const readVarint = (buffer: Buffer, at: number): { value: number; next: number } => {
  let c = buffer[at++]
  if (c === undefined) throw new IndexFormatError("truncated index")
  let value = c & 127
  while (c & 128) {
    value += 1
    c = buffer[at++]
    if (c === undefined || value > 2 ** 40) throw new IndexFormatError("bad path prefix in index")
    value = value * 128 + (c & 127)
  }
  return { value, next: at }
}

/** Parses an index; `hashBytes` is 20 (SHA-1) or 32 (SHA-256 repositories). */
export const parseIndex = (buffer: Buffer, hashBytes = 20): ReadonlyArray<IndexEntry> => {
  if (buffer.length < 12 || buffer.toString("latin1", 0, 4) !== "DIRC") throw new IndexFormatError("not an index file")
  const version = buffer.readUInt32BE(4)
  if (version < 2 || version > 4) throw new IndexFormatError(`index version ${version} is not supported`)
  const count = buffer.readUInt32BE(8)
  const entries: Array<IndexEntry> = []
  let at = 12
  let previous: Buffer = Buffer.alloc(0)
  for (let i = 0; i < count; i++) {
    const start = at
    if (at + 40 + hashBytes + 2 > buffer.length) throw new IndexFormatError("truncated index")
    const word = (offset: number) => buffer.readUInt32BE(at + offset)
    const stat = {
      ctimeSeconds: word(0),
      ctimeNanoseconds: word(4),
      mtimeSeconds: word(8),
      mtimeNanoseconds: word(12),
      dev: word(16),
      ino: word(20),
      uid: word(28),
      gid: word(32),
      size: word(36)
    }
    const mode = word(24)
    const oid = buffer.toString("hex", at + 40, at + 40 + hashBytes)
    const flags = buffer.readUInt16BE(at + 40 + hashBytes)
    at += 40 + hashBytes + 2
    let extended = 0
    if (flags & 0x4000) {
      if (version < 3) throw new IndexFormatError("extended flags in a version 2 index")
      if (at + 2 > buffer.length) throw new IndexFormatError("truncated index")
      extended = buffer.readUInt16BE(at)
      at += 2
    }
    let name: Buffer
    if (version === 4) {
      const strip = readVarint(buffer, at)
      at = strip.next
      if (strip.value > previous.length) throw new IndexFormatError("bad path prefix in index")
      const end = buffer.indexOf(0, at)
      if (end < 0) throw new IndexFormatError("truncated index")
      name = Buffer.concat([previous.subarray(0, previous.length - strip.value), buffer.subarray(at, end)])
      at = end + 1
    } else {
      const end = buffer.indexOf(0, at)
      if (end < 0) throw new IndexFormatError("truncated index")
      name = buffer.subarray(at, end)
      // each entry is padded with 1 to 8 NULs to a multiple of 8 bytes
      at = start + ((at - start + name.length + 8) & ~7)
    }
    previous = name
    entries.push({
      path: name.toString("utf8"),
      mode,
      stage: (flags >> 12) & 3,
      oid,
      ...stat,
      assumeValid: (flags & 0x8000) !== 0,
      skipWorktree: (extended & 0x4000) !== 0,
      intentToAdd: (extended & 0x2000) !== 0
    })
  }
  return entries
}
