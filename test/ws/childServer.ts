/**
 * The real router in a process of its own, for tests that measure its memory: `node test/ws/childServer.ts
 * '<config JSON>'` starts it (like test/support/server.ts) and prints `listening <url>` once it listens;
 * SIGTERM closes it. Its resident memory is read from /proc/<pid>/status by the test.
 */
import { startServer } from "../support/server.ts"

const server = await startServer(JSON.parse(process.argv[2] ?? "{}"))
process.stdout.write(`listening ${server.url}\n`)
process.once("SIGTERM", () => void server.close().finally(() => process.exit(0)))
