/**
 * The RPC decoders on payloads of a real local node (anvil): one block with an ETH transfer, a
 * zero-value transfer, a contract forwarding ETH internally, a reverted transaction with value, a
 * successful transaction whose inner call forwarded ETH and then reverted, a nested forward, and
 * ERC-20-style Transfer logs; fetched with eth_getBlockByNumber(true), eth_getBlockReceipts,
 * eth_getLogs, trace_block and debug_traceBlockByNumber(callTracer).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { AbiCoder, JsonRpcProvider, Network, Wallet, parseEther, type TransactionRequest } from 'ethers'
import {
  ERC20_TRANSFER_TOPIC,
  decodeGethCallTraces,
  decodeParityTraces,
  traceSubIndex,
  transfersFromBlock,
  transfersFromGethCallTraces,
  transfersFromLogs,
  transfersFromParityTraces,
  type GethTraceResult,
  type ParityTrace,
  type RpcBlock,
  type RpcLog,
  type RpcReceipt,
} from '../../src/sources/rpc/decode.ts'
import { DEFAULT_LISTED_TOKENS } from '../../src/sources/assets.ts'
import { ETH, type Address, type Transfer } from '../../src/types.ts'
import { startAnvil, type AnvilInstance } from '../support/anvil.ts'

/** Anvil's first default account (from its well-known test mnemonic), funded with 10 000 ETH. */
const SENDER_KEY = '0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80'

/** Wraps runtime bytecode in the minimal init code `CODECOPY(0, 12, len); RETURN(0, len)`. */
function initCode(runtime: string): string {
  const length = runtime.length / 2
  if (length > 0xff) throw new Error('runtime too long for the one-byte init code')
  const len = length.toString(16).padStart(2, '0')
  return `0x60${len}600c60003960${len}6000f3${runtime}`
}

/**
 * Forwarder: sends all of msg.value to the address in calldata[0:32]; reverts if that call fails.
 *
 *   contract Forwarder {
 *     fallback() external payable {
 *       address to = abi.decode(msg.data, (address));
 *       (bool ok, ) = to.call{value: msg.value}("");
 *       require(ok);
 *     }
 *   }
 *
 *   PUSH1 0 PUSH1 0 PUSH1 0 PUSH1 0 CALLVALUE PUSH1 0 CALLDATALOAD GAS CALL   ; call(gas, to, value, 0, 0, 0, 0)
 *   PUSH1 0x16 JUMPI  PUSH1 0 PUSH1 0 REVERT  JUMPDEST STOP
 */
const FORWARDER = '600060006000600034600035' + '5af1' + '601657' + '60006000fd' + '5b00'

/**
 * Bouncer: forwards msg.value to calldata[0:32] (ignoring the result), then reverts, so the
 * forward is rolled back although its own frame succeeded.
 *
 *   contract Bouncer {
 *     fallback() external payable {
 *       address to = abi.decode(msg.data, (address));
 *       to.call{value: msg.value}("");
 *       revert();
 *     }
 *   }
 *
 *   PUSH1 0 ×4 CALLVALUE PUSH1 0 CALLDATALOAD GAS CALL POP  PUSH1 0 PUSH1 0 REVERT
 */
const BOUNCER = '600060006000600034600035' + '5af1' + '50' + '60006000fd'

/**
 * Swallower: calls calldata[0:32] with msg.value and calldata[32:64] as the callee's calldata,
 * ignores whether that call failed, and succeeds.
 *
 *   contract Swallower {
 *     fallback() external payable {
 *       (address target, address arg) = abi.decode(msg.data, (address, address));
 *       target.call{value: msg.value}(abi.encode(arg));
 *     }
 *   }
 *
 *   PUSH1 0x20 PUSH1 0x20 PUSH1 0 CALLDATACOPY          ; mem[0:32] = calldata[32:64]
 *   PUSH1 0 PUSH1 0 PUSH1 0x20 PUSH1 0 CALLVALUE PUSH1 0 CALLDATALOAD GAS CALL POP STOP
 */
const SWALLOWER = '602060206000' + '37' + '600060006020600034600035' + '5af1' + '50' + '00'

/**
 * Emitter: emits `Transfer(msg.sender, calldata[0:32], calldata[32:64])` like an ERC-20 token.
 *
 *   contract Emitter {
 *     event Transfer(address indexed from, address indexed to, uint256 value);
 *     fallback() external {
 *       (address to, uint256 value) = abi.decode(msg.data, (address, uint256));
 *       emit Transfer(msg.sender, to, value);
 *     }
 *   }
 *
 *   PUSH1 0x20 CALLDATALOAD PUSH1 0 MSTORE      ; mem[0:32] = value
 *   PUSH1 0 CALLDATALOAD CALLER PUSH32 topic0 PUSH1 0x20 PUSH1 0 LOG3 STOP
 */
const EMITTER = '602035' + '600052' + '600035' + '33' + `7f${ERC20_TRANSFER_TOPIC.slice(2)}` + '60206000' + 'a3' + '00'

const R1 = '0x1111111111111111111111111111111111111111'
const R2 = '0x2222222222222222222222222222222222222222'
const R3 = '0x3333333333333333333333333333333333333333'
const R4 = '0x4444444444444444444444444444444444444444'
const R5 = '0x5555555555555555555555555555555555555555'
const R6 = '0x6666666666666666666666666666666666666666'
const R7 = '0x7777777777777777777777777777777777777777'
const R8 = '0x8888888888888888888888888888888888888888'

const abi = AbiCoder.defaultAbiCoder()

interface Fetched {
  blockNumber: number
  block: RpcBlock
  receipts: RpcReceipt[]
  logs: RpcLog[]
  parity: ParityTrace[]
  geth: GethTraceResult[]
  sender: Address
  forwarder: Address
  bouncer: Address
  swallower: Address
  emitter: Address
  hashes: `0x${string}`[]
}

describe('RPC decoders on a real anvil node', () => {
  let anvil: AnvilInstance | undefined
  let provider: JsonRpcProvider | undefined
  let f: Fetched

  beforeAll(async () => {
    anvil = await startAnvil()
    provider = new JsonRpcProvider(anvil.url, Network.from(31337), { staticNetwork: true, pollingInterval: 50, cacheTimeout: -1 })
    const wallet = new Wallet(SENDER_KEY, provider)
    const sender = wallet.address.toLowerCase() as Address
    let nonce = await provider.getTransactionCount(sender, 'latest')

    const deploy = async (runtime: string): Promise<Address> => {
      const tx = await wallet.sendTransaction({ data: initCode(runtime), gasLimit: 200_000n, nonce: nonce++ })
      const receipt = await tx.wait()
      if (receipt === null || receipt.contractAddress === null || receipt.status !== 1) throw new Error('deployment failed')
      const code = await provider!.getCode(receipt.contractAddress)
      expect(code).toBe(`0x${runtime}`)
      return receipt.contractAddress.toLowerCase() as Address
    }
    const forwarder = await deploy(FORWARDER)
    const bouncer = await deploy(BOUNCER)
    const swallower = await deploy(SWALLOWER)
    const emitter = await deploy(EMITTER)

    // Everything below goes into one block: automine off, explicit nonces and gas limits (a
    // reverting transaction would fail eth_estimateGas), then evm_mine.
    await provider.send('evm_setAutomine', [false])
    const feeData = await provider.getFeeData()
    const requests: TransactionRequest[] = [
      // 0: plain ETH transfer: counts (tx)
      { to: R1, value: parseEther('1'), gasLimit: 21_000n },
      // 1: zero-value transfer: nothing counts
      { to: R2, value: 0n, gasLimit: 21_000n },
      // 2: forward 2 ETH through the Forwarder to R3: tx and internal call [0] count
      { to: forwarder, value: parseEther('2'), data: abi.encode(['address'], [R3]), gasLimit: 200_000n },
      // 3: Bouncer forwards 3 ETH to R4, then reverts: status 0, nothing counts
      { to: bouncer, value: parseEther('3'), data: abi.encode(['address'], [R4]), gasLimit: 100_000n },
      // 4: Swallower → Bouncer (forwards to R5, reverts) → Swallower ignores it: only the tx counts
      { to: swallower, value: parseEther('4'), data: abi.encode(['address', 'address'], [bouncer, R5]), gasLimit: 200_000n },
      // 5: Swallower → Forwarder → R6: tx, [0] and [0,0] count
      { to: swallower, value: parseEther('5'), data: abi.encode(['address', 'address'], [forwarder, R6]), gasLimit: 200_000n },
      // 6: a Transfer log of 5 units from the sender to R7 (counts if the emitter is listed)
      { to: emitter, data: abi.encode(['address', 'uint256'], [R7, 5n]), gasLimit: 100_000n },
      // 7: a Transfer log of 0 units: never counts
      { to: emitter, data: abi.encode(['address', 'uint256'], [R8, 0n]), gasLimit: 100_000n },
    ]
    const hashes: `0x${string}`[] = []
    for (const request of requests) {
      const fees = feeData.maxFeePerGas !== null && feeData.maxPriorityFeePerGas !== null
        ? { maxFeePerGas: feeData.maxFeePerGas * 2n, maxPriorityFeePerGas: feeData.maxPriorityFeePerGas }
        : {}
      const tx = await wallet.sendTransaction({ ...request, ...fees, nonce: nonce++, chainId: 31337n })
      hashes.push(tx.hash.toLowerCase() as `0x${string}`)
    }
    await provider.send('evm_mine', [])
    const blockNumber = await provider.getBlockNumber()
    const tag = `0x${blockNumber.toString(16)}`

    const block = (await provider.send('eth_getBlockByNumber', [tag, true])) as RpcBlock
    const receipts = (await provider.send('eth_getBlockReceipts', [tag])) as RpcReceipt[]
    const logs = (await provider.send('eth_getLogs', [{ fromBlock: tag, toBlock: tag }])) as RpcLog[]
    const parity = (await provider.send('trace_block', [tag])) as ParityTrace[]
    const geth = (await provider.send('debug_traceBlockByNumber', [tag, { tracer: 'callTracer' }])) as GethTraceResult[]
    f = { blockNumber, block, receipts, logs, parity, geth, sender, forwarder, bouncer, swallower, emitter, hashes }
  }, 60_000)

  afterAll(async () => {
    provider?.destroy()
    await anvil?.stop()
  })

  const timestamp = (): number => Number(BigInt(f.block.timestamp ?? '0x0'))

  function ethTx(i: number, from: Address, to: Address, ether: string): Transfer {
    return {
      from,
      to,
      amount: parseEther(ether),
      asset: ETH,
      blockNumber: f.blockNumber,
      transactionIndex: i,
      txHash: f.hashes[i]!,
      kind: 'tx',
      subIndex: 0,
      timestamp: timestamp(),
    }
  }

  function ethTrace(i: number, path: number[], from: Address, to: Address, ether: string): Transfer {
    return { ...ethTx(i, from, to, ether), kind: 'trace', subIndex: traceSubIndex(path) }
  }

  it('mined all eight transactions in one block, in order, with the expected statuses', () => {
    const hashes = f.block.transactions.map((tx) => (typeof tx === 'string' ? tx : tx.hash).toLowerCase())
    expect(hashes).toEqual(f.hashes)
    const statuses = f.hashes.map((h) => f.receipts.find((r) => r.transactionHash.toLowerCase() === h)?.status)
    expect(statuses).toEqual(['0x1', '0x1', '0x1', '0x0', '0x1', '0x1', '0x1', '0x1'])
  })

  it('external transactions: value > 0, status 1 and a recipient count; zero-value and reverted do not', () => {
    expect(transfersFromBlock(f.block, f.receipts)).toEqual([
      ethTx(0, f.sender, R1, '1'),
      ethTx(2, f.sender, f.forwarder, '2'),
      ethTx(4, f.sender, f.swallower, '4'),
      ethTx(5, f.sender, f.swallower, '5'),
    ])
  })

  const expectedTraces = (): Transfer[] => [
    ethTrace(2, [0], f.forwarder, R3, '2'),
    ethTrace(5, [0], f.swallower, f.forwarder, '5'),
    ethTrace(5, [0, 0], f.forwarder, R6, '5'),
  ]

  it('trace_block: internal forwards count; calls rolled back by a reverted ancestor do not', () => {
    expect(transfersFromParityTraces(f.parity, f.block)).toEqual(expectedTraces())
  })

  it('debug_traceBlockByNumber(callTracer): the same transfers as trace_block', () => {
    expect(transfersFromGethCallTraces(f.geth, f.block)).toEqual(expectedTraces())
    const withoutTimestamp = expectedTraces().map(({ timestamp: _t, ...rest }) => rest)
    expect(transfersFromParityTraces(f.parity)).toEqual(withoutTimestamp)
  })

  it('rolled-back calls carry no error of their own: only the ancestor rule excludes them', () => {
    for (const decoded of [decodeParityTraces(f.parity), decodeGethCallTraces(f.geth, f.block)]) {
      const calls = decoded.filter((t) => t.type === 'call')
      // tx 3: the top frame reverted; its child Bouncer → R4 succeeded before the revert.
      const bouncedTop = calls.find((t) => t.transactionIndex === 3 && t.traceAddress.length === 0)
      const bounced = calls.find((t) => t.transactionIndex === 3 && t.traceAddress.join() === '0')
      expect(bouncedTop?.error).not.toBeNull()
      expect(bounced).toMatchObject({ from: f.bouncer, to: R4, value: parseEther('3'), error: null, status: 0 })
      // tx 4: Swallower → Bouncer reverted, Bouncer → R5 did not (but was rolled back).
      const inner = calls.find((t) => t.transactionIndex === 4 && t.traceAddress.join() === '0')
      const innermost = calls.find((t) => t.transactionIndex === 4 && t.traceAddress.join() === '0,0')
      expect(inner).toMatchObject({ from: f.swallower, to: f.bouncer, callType: 'call', status: 0 })
      expect(inner?.error).not.toBeNull()
      expect(innermost).toMatchObject({ from: f.bouncer, to: R5, value: parseEther('4'), error: null, status: 0 })
      // Both formats give the same frames with the same trace addresses and statuses.
      expect(calls.map((t) => [t.transactionIndex, t.traceAddress.join(), t.callType, t.from, t.to, t.value, t.status])).toEqual(
        decodeGethCallTraces(f.geth, f.block)
          .filter((t) => t.type === 'call')
          .map((t) => [t.transactionIndex, t.traceAddress.join(), t.callType, t.from, t.to, t.value, t.status]),
      )
    }
  })

  it('Transfer logs count only for a listed token and a positive amount', () => {
    const expected: Transfer = {
      from: f.sender,
      to: R7,
      amount: 5n,
      asset: f.emitter,
      blockNumber: f.blockNumber,
      transactionIndex: 6,
      txHash: f.hashes[6]!,
      kind: 'log',
      subIndex: 0,
    }
    const receiptLogs = f.receipts.flatMap((r) => (r as unknown as { logs: RpcLog[] }).logs)
    expect(receiptLogs).toHaveLength(2)
    for (const logs of [f.logs, receiptLogs]) {
      const transfers = transfersFromLogs(logs, new Set([f.emitter]))
      // Newer nodes (anvil included) put blockTimestamp on logs; then it becomes the timestamp.
      const stamped = logs[0]?.blockTimestamp !== undefined
      expect(transfers).toEqual([stamped ? { ...expected, timestamp: timestamp() } : expected])
      expect(transfersFromLogs(logs, new Set(DEFAULT_LISTED_TOKENS))).toEqual([])
    }
  })
})
