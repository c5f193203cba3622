import * as Schema from "effect/Schema"

/** Invalid configuration: each problem names the field, the value and what is expected. */
export class ConfigError extends Schema.TaggedError<ConfigError>()("ConfigError", {
  source: Schema.String,
  problems: Schema.Array(Schema.String)
}) {
  override get message(): string {
    return `Invalid configuration (${this.source}):\n${this.problems.map((p) => `  - ${p}`).join("\n")}`
  }
}
