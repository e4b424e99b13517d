#!/usr/bin/env node
// `npx exposure …` in a checkout: runs the TypeScript CLI through tsx (no build step to forget).
import { register } from 'tsx/esm/api'

register()
await import('../src/cli/main.ts')
