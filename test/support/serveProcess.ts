/**
 * `node src/main.ts serve` as a process of its own on a free port (MCP_PORT=0), with the environment of
 * this process less its MCP_* settings plus `env`; resolves once it says where it listens. Every such
 * process is killed when the test process exits.
 */
import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process"
import * as path from "node:path"

const root = path.resolve(import.meta.dirname, "../..")
const nodeBin = Number(process.versions.node.split(".")[0]) >= 24 ? process.execPath : path.join(root, "node_modules/.bin/node")

export interface RouterProcess {
  readonly url: string
  readonly child: ChildProcessWithoutNullStreams
  /** Everything it wrote so far. */
  readonly output: () => string
  /** Its exit, however it comes. */
  readonly exited: Promise<unknown>
  /** SIGTERM, SIGKILL after 10 s; resolves once it has exited. */
  readonly stop: () => Promise<void>
}

const children = new Set<ChildProcessWithoutNullStreams>()
process.once("exit", () => {
  for (const child of children) child.kill("SIGKILL")
})

export const startServeProcess = (env: Record<string, string>, startMs = 30_000) =>
  new Promise<RouterProcess>((resolve, reject) => {
    const base = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith("MCP_")))
    const child = spawn(nodeBin, ["src/main.ts", "serve"], {
      cwd: root,
      env: { ...base, MCP_PORT: "0", MCP_HOST: "127.0.0.1", MCP_LOG_CONSOLE: "true", ...env }
    })
    children.add(child)
    const exited = new Promise((done) => child.once("exit", done)).finally(() => children.delete(child))
    let output = ""
    const timer = setTimeout(() => {
      child.kill("SIGKILL")
      reject(new Error(`the router did not start: ${output}`))
    }, startMs)
    const collect = (chunk: Buffer) => {
      output += String(chunk)
      const found = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(output)
      if (found) {
        clearTimeout(timer)
        resolve({
          url: found[1]!,
          child,
          output: () => output,
          exited,
          stop: () => {
            if (child.exitCode === null && child.signalCode === null) {
              child.kill("SIGTERM")
              setTimeout(() => child.kill("SIGKILL"), 10_000).unref()
            }
            return exited.then(() => undefined)
          }
        })
      }
    }
    child.stdout.on("data", collect)
    child.stderr.on("data", collect)
    child.once("exit", (code) => {
      clearTimeout(timer)
      reject(new Error(`the router exited with ${code} before it listened: ${output}`))
    })
  })
