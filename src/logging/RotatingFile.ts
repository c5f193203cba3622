/** An append-only log file that is rotated by size: name.log → name.log.1 → ... → name.log.<maxFiles>. */
import * as fs from "node:fs"
import * as path from "node:path"

export interface RotatingFile {
  readonly write: (line: string) => void
  readonly close: () => Promise<void>
}

export const openRotatingFile = (file: string, maxBytes: number, maxFiles: number): RotatingFile => {
  fs.mkdirSync(path.dirname(file), { recursive: true })
  let size = fs.statSync(file, { throwIfNoEntry: false })?.size ?? 0
  // opened synchronously so the file exists at once: a rotation may follow before any write completes
  const open = () => fs.createWriteStream(file, { fd: fs.openSync(file, "a") })
  let stream = open()
  const rotate = () => {
    stream.end()
    // an open descriptor follows a rename, so lines still buffered land in the rotated file
    for (let i = maxFiles - 1; i >= 1; i--) {
      if (fs.existsSync(`${file}.${i}`)) fs.renameSync(`${file}.${i}`, `${file}.${i + 1}`)
    }
    fs.renameSync(file, `${file}.1`)
    fs.rmSync(`${file}.${maxFiles + 1}`, { force: true })
    stream = open()
    size = 0
  }
  return {
    write: (line) => {
      const bytes = Buffer.byteLength(line) + 1
      try {
        if (size > 0 && size + bytes > maxBytes) rotate()
      } catch {
        // a failed rotation must not fail the code that logged: keep appending to the current file
      }
      stream.write(`${line}\n`)
      size += bytes
    },
    close: () => new Promise((resolve) => stream.end(resolve))
  }
}
