/**
 * File descriptors as the Sandbox uses them (Linux). A path is opened once; everything after goes through
 * the descriptor or through `/proc/self/fd/N`, a path that reaches exactly the opened object wherever it
 * is now, so a symbolic link swapped in after the check cannot redirect it:
 * - `O_PATH` opens a file or folder without reading it (no FIFO blocks, no device is opened), and
 *   `readlink("/proc/self/fd/N")` tells the opened object's real path;
 * - `/proc/self/fd/N` reopens it for reading, and `/proc/self/fd/N/name` names an entry of that very
 *   folder: the `*at()` system calls (openat, mkdirat, renameat) without a native binding.
 *
 * Descriptors are raw numbers closed with closeSync: closing an O_PATH or read-only descriptor never waits.
 * Worker threads share them (same process); descriptors a worker opened are closed when it is terminated.
 */
import * as fs from "node:fs"

/** open(2)'s O_PATH on Linux (asm-generic; Node has no constant for it). */
export const O_PATH = 0o10000000
export const { O_APPEND, O_CREAT, O_DIRECTORY, O_EXCL, O_NOCTTY, O_NOFOLLOW, O_NONBLOCK, O_RDONLY, O_WRONLY } = fs.constants

/** Whether /proc/self/fd reaches this process's descriptors (Linux with procfs mounted). */
export const procAvailable = (): boolean => {
  try {
    const fd = fs.openSync("/", O_PATH | O_DIRECTORY)
    try {
      return fs.readlinkSync(procPath(fd)) === "/"
    } finally {
      fs.closeSync(fd)
    }
  } catch {
    return false
  }
}

/** The path that reaches exactly the object open as `fd`. */
export const procPath = (fd: number): string => `/proc/self/fd/${fd}`

/** The entry `name` (one name, no separator) of the folder open as `fd`. */
export const procChild = (fd: number, name: string): string => `/proc/self/fd/${fd}/${name}`

/**
 * open(2) with O_PATH, synchronously: it only looks the path up and grants no I/O, so no FIFO, device or
 * lease can make it wait; that takes microseconds, a tenth of a round trip through libuv's thread pool.
 */
export const openPath = (file: string, flags = 0): number => fs.openSync(file, O_PATH | flags)

export const open = (file: string, flags: number, mode = 0o666): Promise<number> =>
  new Promise((resolve, reject) => fs.open(file, flags, mode, (error, fd) => (error === null ? resolve(fd) : reject(error))))

/**
 * open(2) of a regular file for a small read, synchronously (see `readNow`); O_NONBLOCK, so that a lease
 * another process holds on it fails the open instead of making it wait.
 */
export const openForSmallRead = (file: string): number => fs.openSync(file, O_RDONLY | O_NOCTTY | O_NONBLOCK)

/**
 * pread(2), synchronously: for reads of at most `smallReadBytes` of a regular file, which come from the
 * page cache in microseconds, where a round trip through libuv's thread pool costs ~50 µs of CPU.
 */
export const readNow = (fd: number, buffer: Buffer, offset: number, length: number, position: number): number =>
  fs.readSync(fd, buffer, offset, length, position)

/** The largest read done synchronously: a cold read of this much from disk blocks the loop briefly. */
export const smallReadBytes = 64 * 1024

export const read = (fd: number, buffer: Buffer, offset: number, length: number, position: number): Promise<number> =>
  new Promise((resolve, reject) =>
    fs.read(fd, buffer, offset, length, position, (error, bytesRead) => (error === null ? resolve(bytesRead) : reject(error))))

/** Writes all of `data` (write(2) may write less than asked). */
export const writeAll = async (fd: number, data: Uint8Array): Promise<void> => {
  for (let done = 0; done < data.length;) {
    done += await new Promise<number>((resolve, reject) =>
      fs.write(fd, data, done, data.length - done, null, (error, written) => (error === null ? resolve(written) : reject(error))))
  }
}

export const fchmod = (fd: number, mode: number): Promise<void> =>
  new Promise((resolve, reject) => fs.fchmod(fd, mode, (error) => (error === null ? resolve() : reject(error))))

/** fstat: on a descriptor already open it reads the inode the kernel holds, so it is called synchronously. */
export const fstat = (fd: number): fs.Stats => fs.fstatSync(fd)

/** The real path of the object open as `fd`, as the kernel names it now (in memory: synchronous). */
export const realPathOf = (fd: number): string => fs.readlinkSync(procPath(fd))

export const close = (fd: number): void => {
  try {
    fs.closeSync(fd)
  } catch {
    // already closed: nothing to release
  }
}
