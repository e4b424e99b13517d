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
import { handleError } from '../../problems.ts'

export const BULL_BOARD_PATH = '/admin/queues'

/** Registered inside its own encapsulated scope (app.ts): the admin hook covers the board only. */
export async function bullBoard(app: FastifyInstance): Promise<void> {
  // bull-board sets its own error handler in its scope: answer auth failures here, as problems.
  app.addHook('onRequest', async (request, reply) => {
    try {
      await app.authenticateAdminPage(request, reply)
    } catch (error) {
      return handleError(error as Error, request, reply)
    }
  })
  const serverAdapter = new FastifyAdapter()
  serverAdapter.setBasePath(BULL_BOARD_PATH)
  createBullBoard({ queues: Object.values(app.services.queues).map((q) => new BullMQAdapter(q)), serverAdapter })
  await app.register(serverAdapter.registerPlugin(), { prefix: BULL_BOARD_PATH })
}
