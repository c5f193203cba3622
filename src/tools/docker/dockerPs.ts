import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import { AppConfig } from "../../config/AppConfig.ts"
import { defineTool, jsonOutput } from "../ToolDefinition.ts"
import { dockerGetJson, resolveDockerSocket, unreachable } from "./dockerApi.ts"

const ContainerState = Schema.Literals(["created", "restarting", "running", "removing", "paused", "exited", "dead"])
const NonEmpty = Schema.String.check(Schema.isNonEmpty())

const DockerPsInput = Schema.Struct({
  all: Schema.optionalKey(Schema.Boolean.annotate({ description: "Include stopped containers (default false: running only)" })),
  filters: Schema.optionalKey(
    Schema.Struct({
      label: Schema.optionalKey(Schema.Array(NonEmpty).annotate({ description: "\"key\" or \"key=value\"; all must match" })),
      status: Schema.optionalKey(Schema.Array(ContainerState).annotate({ description: "Any of these states" })),
      name: Schema.optionalKey(Schema.Array(NonEmpty).annotate({ description: "Part of a container name" }))
    }).annotate({ description: "Narrow the list, as `docker ps --filter` does" })
  )
})

/** The fields of GET /containers/json that docker_ps reports; the Engine API sends many more. */
const EnginePort = Schema.Struct({
  IP: Schema.optionalKey(Schema.String),
  PrivatePort: Schema.Number,
  PublicPort: Schema.optionalKey(Schema.Number),
  Type: Schema.String
})
const EngineContainer = Schema.Struct({
  Id: Schema.String,
  Names: Schema.Array(Schema.String),
  Image: Schema.String,
  State: Schema.String,
  Status: Schema.String,
  Ports: Schema.Array(EnginePort),
  Created: Schema.Number
})
const decodeContainers = Schema.decodeUnknownEffect(Schema.Array(EngineContainer))

/** As `docker ps` shows a port: "0.0.0.0:8080->80/tcp", "[::]:8080->80/tcp", or "80/tcp" when not published. */
export const formatPort = (port: typeof EnginePort.Type) => {
  const target = `${port.PrivatePort}/${port.Type}`
  if (port.PublicPort === undefined) return target
  const host = port.IP === undefined || port.IP === "" ? "" : port.IP.includes(":") ? `[${port.IP}]:` : `${port.IP}:`
  return `${host}${port.PublicPort}->${target}`
}

/** The Engine API's query: `filters` is a JSON object of string arrays; empty arrays are left out. */
export const containersQuery = (input: typeof DockerPsInput.Type) => {
  const query = new URLSearchParams()
  if (input.all === true) query.set("all", "1")
  const filters = Object.fromEntries(Object.entries(input.filters ?? {}).filter(([, values]) => values.length > 0))
  if (Object.keys(filters).length > 0) query.set("filters", JSON.stringify(filters))
  const encoded = query.toString()
  return encoded === "" ? "/containers/json" : `/containers/json?${encoded}`
}

export const dockerPsTool = Effect.gen(function*() {
  const config = yield* AppConfig
  return defineTool({
    name: "docker_ps",
    description:
      "List Docker containers (like `docker ps`) through the Docker Engine API socket: id, names, image, state, status, " +
      "published ports and creation time. Running containers only unless `all` is true; `filters` narrows by label, state or name.",
    input: DockerPsInput,
    annotations: { title: "Docker containers", readOnlyHint: true, openWorldHint: false },
    handler: (input) =>
      Effect.gen(function*() {
        const tools = config.current().tools
        const socketPath = yield* resolveDockerSocket(tools.dockerSocket, process.env["DOCKER_HOST"])
        // the Router cuts the call at tools.timeout; answering a little earlier lets the message name the socket
        const answerWithinMs = Math.max(1, Math.floor(tools.timeout * 0.9))
        const reply = yield* dockerGetJson(socketPath, containersQuery(input), answerWithinMs)
        const engineContainers = yield* decodeContainers(reply).pipe(
          Effect.mapError((error) => unreachable(socketPath, `the answer is not a container list (${error.message})`))
        )
        const containers = engineContainers.map((c) => ({
          id: c.Id.slice(0, 12),
          names: c.Names.map((name) => name.replace(/^\//, "")),
          image: c.Image,
          state: c.State,
          status: c.Status,
          ports: c.Ports.map(formatPort),
          created: new Date(c.Created * 1000).toISOString()
        }))
        return jsonOutput({ socket: socketPath, count: containers.length, containers })
      })
  })
})
