/** Waiting in tests for something that happens on its own time: another process, a socket, a timer. */

/** Polls `check` every 25 ms until it holds or `ms` passes; answers whether it held. */
export const eventually = async (check: () => boolean | Promise<boolean>, ms = 10_000): Promise<boolean> => {
  const deadline = Date.now() + ms
  while (!(await check())) {
    if (Date.now() > deadline) return false
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
  return true
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
