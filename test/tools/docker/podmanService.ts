/**
 * A real Engine-API-compatible daemon for tests: `podman system service` on a temporary socket, with its
 * own storage in a temporary folder so tests neither see nor leave containers on the machine.
 * Containers are only created, never started: that needs no image registry and no privileges beyond
 * podman's own (starting them fails in sandboxes that forbid setrlimit).
 */
import { type ChildProcess, execFileSync, spawn, spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"

export const podmanInstalled = spawnSync("podman", ["--version"], { stdio: "ignore" }).status === 0

export interface PodmanService {
  readonly socketPath: string
  /** Runs podman against the service's storage, returning its stdout. */
  readonly podman: (args: ReadonlyArray<string>) => string
  readonly close: () => Promise<void>
}

/** A one-file image imported from a tarball (nothing is pulled). */
export const testImage = "localhost/mcp-router-test:1"

const waitForSocket = async (socketPath: string, service: ChildProcess, withinMs: number) => {
  const deadline = Date.now() + withinMs
  while (!fs.existsSync(socketPath)) {
    if (service.exitCode !== null) throw new Error(`podman system service exited with ${service.exitCode}`)
    if (Date.now() > deadline) throw new Error(`podman system service did not create ${socketPath} within ${withinMs} ms`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

export const startPodmanService = async (): Promise<PodmanService> => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mcp-podman-"))
  const socketPath = path.join(dir, "api.sock")
  const globalFlags = [
    "--root", path.join(dir, "storage"),
    "--runroot", path.join(dir, "run"),
    "--tmpdir", path.join(dir, "tmp"),
    "--storage-driver", "vfs",
    "--events-backend", "none",
    "--cgroup-manager", "cgroupfs"
  ]
  const podman = (args: ReadonlyArray<string>) =>
    execFileSync("podman", [...globalFlags, ...args], { encoding: "utf8", timeout: 30_000, stdio: ["ignore", "pipe", "pipe"] })

  const rootfs = path.join(dir, "rootfs")
  fs.mkdirSync(rootfs)
  fs.writeFileSync(path.join(rootfs, "README"), "an image with one file: its containers are created, never run\n")
  execFileSync("tar", ["-C", rootfs, "-cf", path.join(dir, "image.tar"), "."])

  let service: ChildProcess | undefined
  const close = async () => {
    if (service !== undefined && service.exitCode === null && service.signalCode === null) {
      const exited = new Promise((resolve) => service!.once("exit", resolve))
      service.kill("SIGTERM")
      await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 10_000))])
      if (service.exitCode === null && service.signalCode === null) service.kill("SIGKILL")
    }
    // everything podman stored lives in this folder; created containers hold no mounts
    fs.rmSync(dir, { recursive: true, force: true })
  }
  try {
    podman(["import", path.join(dir, "image.tar"), testImage])
    service = spawn("podman", [...globalFlags, "system", "service", "--time=0", `unix://${socketPath}`], { stdio: "ignore" })
    await waitForSocket(socketPath, service, 20_000)
  } catch (error) {
    await close()
    throw error
  }
  return { socketPath, podman, close }
}
