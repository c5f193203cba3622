/**
 * Logging from the configuration: level, console (readable on a TTY, JSON lines otherwise), an optional
 * size-rotated file under logDir, and a ring buffer of recent entries for GET /logs. Every entry is
 * redacted before it goes anywhere.
 */
import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as References from "effect/References"
import * as path from "node:path"
import { AppConfig } from "../config/AppConfig.ts"
import type { LogLevelName } from "../config/schema.ts"
import { redactText, redactValue } from "./redact.ts"
import { openRotatingFile } from "./RotatingFile.ts"

export interface LogEntry {
  readonly timestamp: string
  readonly level: Exclude<LogLevelName, "none">
  readonly message: string
  readonly annotations: Record<string, unknown>
  readonly cause?: string
}

const severity: Record<LogLevelName, number> = { trace: 0, debug: 1, info: 2, warn: 3, error: 4, fatal: 5, none: 6 }
const fromEffectLevel: Record<string, Exclude<LogLevelName, "none">> = {
  All: "trace", Trace: "trace", Debug: "debug", Info: "info", Warn: "warn", Error: "error", Fatal: "fatal"
}
const colors: Record<string, string> = { trace: "90", debug: "36", info: "32", warn: "33", error: "31", fatal: "35" }

export const isAtLeast = (level: LogLevelName, minimum: LogLevelName) => severity[level] >= severity[minimum]

/** Recent log entries, newest last; what GET /logs serves. */
export class LogBuffer extends Context.Service<LogBuffer, {
  readonly push: (entry: LogEntry) => void
  readonly recent: (options: { readonly level?: LogLevelName; readonly limit?: number }) => ReadonlyArray<LogEntry>
  /** Calls `listener` with every new entry until the returned function is called. */
  readonly listen: (listener: (entry: LogEntry) => void) => () => void
}>()("mcp-router/logging/LogBuffer") {
  static readonly make = (capacity: number) => {
    const entries: Array<LogEntry> = []
    const listeners = new Set<(entry: LogEntry) => void>()
    return LogBuffer.of({
      push: (entry) => {
        entries.push(entry)
        if (entries.length > capacity) entries.splice(0, entries.length - capacity)
        for (const listener of listeners) listener(entry)
      },
      listen: (listener) => {
        listeners.add(listener)
        return () => void listeners.delete(listener)
      },
      recent: ({ level = "trace", limit = 100 }) => entries.filter((e) => isAtLeast(e.level, level)).slice(-limit)
    })
  }
}

const messageText = (message: unknown): string => {
  const parts = Array.isArray(message) ? message : [message]
  return parts.map((part) => (typeof part === "string" ? part : JSON.stringify(part))).join(" ")
}

const prettyLine = (entry: LogEntry) => {
  const fields = Object.entries(entry.annotations).map(([k, v]) => `${k}=${typeof v === "string" ? v : JSON.stringify(v)}`)
  const color = colors[entry.level] ?? "0"
  return `${entry.timestamp} \x1b[${color}m${entry.level.toUpperCase().padEnd(5)}\x1b[0m ${entry.message}${fields.length ? ` \x1b[90m${fields.join(" ")}\x1b[0m` : ""}${entry.cause ? `\n${entry.cause}` : ""}`
}

export interface LoggingOptions {
  /** stdio mode: stdout carries the protocol, so console output goes to stderr. */
  readonly toStderr?: boolean
}

export const makeLoggingLayer = (options: LoggingOptions = {}) =>
  Layer.unwrap(
    Effect.gen(function*() {
      const config = yield* AppConfig
      const settings = config.current().logging
      const buffer = LogBuffer.make(settings.bufferSize)
      const file = settings.enableFile
        ? yield* Effect.acquireRelease(
          Effect.sync(() => openRotatingFile(path.join(settings.logDir, "mcp-router.log"), settings.maxFileBytes, settings.maxFiles)),
          (f) => Effect.promise(f.close)
        )
        : undefined
      const out = options.toStderr === true ? process.stderr : process.stdout
      const pretty = out.isTTY === true
      const logger = Logger.make((log) => {
        const level = fromEffectLevel[log.logLevel]
        // the level is read on each entry so a runtime config update takes effect at once
        const current = config.current().logging
        if (level === undefined || !isAtLeast(level, current.level)) return
        const structured = Logger.formatStructured.log(log)
        const entry: LogEntry = {
          timestamp: structured.timestamp,
          level,
          message: redactText(messageText(structured.message)),
          annotations: redactValue(structured.annotations) as Record<string, unknown>,
          ...(log.cause.reasons.length === 0 ? {} : { cause: redactText(Cause.pretty(log.cause)) })
        }
        buffer.push(entry)
        if (current.enableConsole) out.write(`${pretty ? prettyLine(entry) : JSON.stringify(entry)}\n`)
        file?.write(JSON.stringify(entry))
      })
      return Layer.mergeAll(
        Logger.layer([logger]),
        Layer.succeed(References.MinimumLogLevel, "All"),
        Layer.succeed(LogBuffer, buffer)
      )
    })
  )
