/**
 * 500 connect/disconnect cycles of a cheap upstream (plain Node answering JSON-RPC by hand), added and
 * removed at runtime with POST /config: every process it started ends, and the router (running in this
 * process) keeps no more memory or file descriptors than generous bounds allow. Garbage is collected
 * before each measure, so what the heap still holds after the cycles is what they leaked.
 */
import * as fs from "node:fs"
import * as v8 from "node:v8"
import * as vm from "node:vm"
import { expect, it } from "vitest"
import { cleanupAfterEach, fixture, listed, markerDir, processesWith, recordedPids, setUpstreams, start, stdio, upstreams, waitFor } from "./support.ts"

cleanupAfterEach()

const CYCLES = 500
const WARM_UP = 50
const MB = 1024 * 1024
const openFds = () => fs.readdirSync("/proc/self/fd").length

v8.setFlagsFromString("--expose-gc")
const gc = vm.runInNewContext("gc") as () => void
const collected = () => {
  gc()
  gc()
  return process.memoryUsage()
}

it(`${CYCLES} connect/disconnect cycles leave no child process and no growing memory`, async () => {
  const marker = markerDir()
  const cheap = { name: "cycle", healthCheckMs: 60_000, transport: stdio(fixture("cheapServer.mjs"), marker) }
  const server = await start()
  const builtIn = await listed(server)

  const cycle = async () => {
    await setUpstreams(server, [cheap])
    await waitFor("cycle up", async () => (await upstreams(server))[0]?.state === "up", 20_000, 5)
    await setUpstreams(server, [])
    await waitFor("cycle removed", async () => (await upstreams(server)).length === 0, 20_000, 5)
  }

  for (let i = 0; i < WARM_UP; i++) await cycle()
  const before = collected()
  const fdsBefore = openFds()
  for (let i = WARM_UP; i < CYCLES; i++) {
    await cycle()
    if (i % 50 === 0) gc()
  }

  // every cycle started its own process, and none is left
  expect(recordedPids(marker)).toHaveLength(CYCLES)
  await waitFor("every cycle's process to end", () => processesWith(marker).length === 0)
  expect(await listed(server)).toEqual(builtIn)
  expect(openFds() - fdsBefore, "file descriptors left open").toBeLessThan(50)

  const after = collected()
  const rssMb = (after.rss - before.rss) / MB
  const heapMb = (after.heapUsed - before.heapUsed) / MB
  expect(rssMb, `RSS grew ${rssMb.toFixed(1)} MB over ${CYCLES - WARM_UP} cycles`).toBeLessThan(150)
  // about 25 KB a cycle: a session's tool definitions, client or scope kept per cycle would exceed it
  expect(heapMb, `the heap kept ${heapMb.toFixed(2)} MB over ${CYCLES - WARM_UP} cycles`).toBeLessThan(12)
}, 400_000)
