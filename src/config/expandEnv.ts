/** `${VAR}` in configured secrets (API headers, database URLs) is read from the environment at use. */
import * as Effect from "effect/Effect"
import { ToolFailure } from "../tools/ToolDefinition.ts"

const reference = /\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g

/** Replaces every `${VAR}`; a variable that is not set fails naming it and where it was used. */
export const expandEnv = (
  value: string,
  where: string,
  env: Readonly<Record<string, string | undefined>> = process.env
): Effect.Effect<string, ToolFailure> => {
  const missing: Array<string> = []
  const expanded = value.replace(reference, (_, name: string) => {
    const found = env[name]
    if (found === undefined) missing.push(name)
    return found ?? ""
  })
  return missing.length === 0
    ? Effect.succeed(expanded)
    : Effect.fail(new ToolFailure({ message: `${where} uses \${${missing.join("}, ${")}}, which is not set in the router's environment` }))
}
