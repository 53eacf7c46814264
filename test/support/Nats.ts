import { connect, type JsMsg, type NatsConnection } from "nats"

/** The machine's NATS server (CI runs one), or TEST_NATS_URL. */
export const natsUrl = process.env.TEST_NATS_URL ?? "nats://127.0.0.1:4222"

/** A connection, or undefined after printing why the NATS tests are skipped. */
export const connectOrSkip = async (suite: string): Promise<NatsConnection | undefined> => {
  try {
    const connection = await connect({ servers: natsUrl, timeout: 2_000 })
    await (await connection.jetstreamManager()).getAccountInfo()
    return connection
  } catch (error) {
    console.log(`[nats] ${suite} skipped: no NATS server with JetStream answers at ${natsUrl} (${String(error)})`)
    return undefined
  }
}

/**
 * A stream of the test's own over a subject prefix of its own, so that tests running at once
 * (on this machine, several checkouts do) never share a subject or a stream.
 */
export const testStream = async (connection: NatsConnection, label: string) => {
  const token = `${label}${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}`
  const name = `DINO_TEST_${token}`.toUpperCase()
  const subjectPrefix = `test.${token}.dino.wallet.events`
  const manager = await connection.jetstreamManager()
  await manager.streams.add({ name, subjects: [`${subjectPrefix}.>`] })
  return {
    name,
    subjectPrefix,
    /** Every message a fresh consumer receives from the stream's start, until `count` came or `timeoutMs` passed. */
    receive: async (count: number, timeoutMs = 30_000) => {
      const consumer = await connection.jetstream().consumers.get(name)
      const messages: Array<JsMsg> = []
      const deadline = Date.now() + timeoutMs
      while (messages.length < count && Date.now() < deadline) {
        const batch = await consumer.fetch({ max_messages: count - messages.length, expires: 1_000 })
        for await (const message of batch) messages.push(message)
      }
      return messages.map((message) => ({
        subject: message.subject,
        msgId: message.headers?.get("Nats-Msg-Id") ?? "",
        body: message.string()
      }))
    },
    storedCount: async () => (await manager.streams.info(name)).state.messages,
    remove: () => manager.streams.delete(name)
  }
}
