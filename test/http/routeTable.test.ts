/** The README's route table is the one the routes declare (GET /api/routes), row for row. */
import * as fs from "node:fs"
import { expect, it } from "vitest"
import { ADMIN, call, cleanupAfterEach, root, start } from "../security/support.ts"

cleanupAfterEach()

const documented = () => {
  const readme = fs.readFileSync(`${root}/README.md`, "utf8")
  const table = readme.slice(readme.indexOf("<!-- route-table:start -->"), readme.indexOf("<!-- route-table:end -->"))
  return table.split("\n")
    .filter((line) => line.startsWith("| `"))
    .map((line) => line.split("|").slice(1, 4).map((cell) => cell.trim().replaceAll("`", "")).join(" "))
    .sort()
}

it("lists exactly the declared routes with their access", async () => {
  const server = await start()
  const reply = await call(`${server.url}/api/routes`, { key: ADMIN })
  expect(reply.status).toBe(200)
  const declared = (reply.json.routes as Array<{ method: string; path: string; access: string }>)
    .map((route) => `${route.method} ${route.path} ${route.access}`)
    .sort()
  expect(documented()).toEqual(declared)
  expect(declared.length).toBeGreaterThan(15)
})
