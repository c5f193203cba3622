#!/usr/bin/env -S node --max-semi-space-size=16
// The mcp-router command. It runs the compiled router (dist/bin/, the bundle `npm run build` makes and the
// package ships) when it is there, else the TypeScript sources of a checkout (Node 24 strips their types); in a
// checkout whose src/ changed after the build, the sources.
//
// The router needs Node.js 24. Under an older Node (the system Node a desktop client or `npx` starts
// this file with) it starts itself again with the Node 24 of the `node` npm package, which the package
// installs with it (an optional dependency), passing its arguments, standard streams and exit status on.
// This file therefore keeps to syntax that old Node versions run.
//
// --max-semi-space-size=16 (MB): V8 sizes the young generation from the machine's memory; the router's
// garbage is short-lived (a request's), and 16 MB semi-spaces collect it as fast while holding ~80 MB less
// under load. The flags Node was started with pass to a restarted Node.
import { spawn } from "node:child_process"
import { existsSync, readdirSync, statSync } from "node:fs"
import * as nodeModule from "node:module"
import * as path from "node:path"
import { fileURLToPath, pathToFileURL } from "node:url"

const self = fileURLToPath(import.meta.url)
const packageRoot = path.resolve(path.dirname(self), "..")
const needed = 24
const major = (version) => Number(version.split(".")[0])

/** The Node binary of the `node` npm package beside this one, when it is installed. */
const bundledNode = () => {
  try {
    const manifest = nodeModule.createRequire(self).resolve("node/package.json")
    const binary = path.join(path.dirname(manifest), "bin", process.platform === "win32" ? "node.exe" : "node")
    return existsSync(binary) ? binary : undefined
  } catch {
    return undefined
  }
}

/** Whether a file below `dir` changed after `time`: in a checkout, a dist/ older than src/ is not run. */
const newerThan = (dir, time) =>
  readdirSync(dir, { recursive: true, withFileTypes: true }).some((entry) =>
    entry.isFile() && statSync(path.join(entry.parentPath, entry.name)).mtimeMs > time
  )

if (major(process.versions.node) < needed) {
  const node = process.env.MCP_ROUTER_REEXEC === "1" ? undefined : bundledNode()
  if (node === undefined) {
    process.stderr.write(
      `mcp-router needs Node.js ${needed} or newer (this is ${process.version}), and the node package it installs ` +
        `with (Node.js ${needed}) was not found: reinstall mcp-router-pro without --omit=optional, or run it with Node.js ${needed}.\n`
    )
    process.exit(1)
  }
  const child = spawn(node, [...process.execArgv, self, ...process.argv.slice(2)], {
    stdio: "inherit",
    env: { ...process.env, MCP_ROUTER_REEXEC: "1" }
  })
  // the router shuts down gracefully on these; this process only waits for it
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) {
    process.on(signal, () => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal)
    })
  }
  child.on("error", (error) => {
    process.stderr.write(`mcp-router: cannot start ${node}: ${error.message}\n`)
    process.exit(1)
  })
  child.on("exit", (code, signal) => {
    if (signal !== null) {
      process.removeAllListeners(signal)
      process.kill(process.pid, signal)
    }
    process.exit(code ?? 1)
  })
} else {
  const compiled = path.join(packageRoot, "dist", "bin", "mcp-router.js")
  const sources = path.join(packageRoot, "src")
  const entry = existsSync(compiled) && !(existsSync(sources) && newerThan(sources, statSync(compiled).mtimeMs))
    ? compiled
    : path.join(sources, "main.ts")
  // V8 keeps the code it compiled in a cache folder (NODE_COMPILE_CACHE, else the OS temporary folder)
  // and the next start reads it instead of compiling again; a folder it cannot write is skipped
  nodeModule.enableCompileCache?.()
  const { main } = await import(pathToFileURL(entry).href)
  main()
}
