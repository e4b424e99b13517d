/**
 * The queue dashboard (bull-board) under /admin/queues, for keys with the admin scope. A browser
 * logs in with the key as the password of a Basic prompt (any user name); scripts send Bearer.
 * Its page loads web fonts from the internet: it works offline without them, and a strict CSP
 * must allow them or go without.
 */
import { createBullBoard } from '@bull-board/api'
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter'
import { FastifyAdapter } from '@bull-board/fastify'
import type { FastifyInstance } from 'fastify'

export const BULL_BOARD_PATH = '/admin/queues'

/** Registered inside its own encapsulated scope (app.ts): the admin hook covers the board only. */
export async function bullBoard(app: FastifyInstance): Promise<void> {
  app.addHook('onRequest', app.authenticateAdminPage)
  const serverAdapter = new FastifyAdapter()
  serverAdapter.setBasePath(BULL_BOARD_PATH)
  createBullBoard({ queues: Object.values(app.services.queues).map((q) => new BullMQAdapter(q)), serverAdapter })
  await app.register(serverAdapter.registerPlugin(), { prefix: BULL_BOARD_PATH })
}
