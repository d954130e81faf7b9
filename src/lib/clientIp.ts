// The client's address for the purchase route, which runs before Express and so has no req.ip.
import type { IncomingMessage } from 'node:http';
import proxyAddr from 'proxy-addr';

/** The peer's address; one function for every caller, so the purchase route meets one call target. */
const socketAddress = (req: IncomingMessage): string => req.socket.remoteAddress ?? '';

/** Like Express's req.ip under the same TRUST_PROXY setting; with no proxy trusted, just the socket's peer. */
export function clientIpFunction(trust: boolean | number): (req: IncomingMessage) => string {
  if (trust === false) return socketAddress;
  const trusted = trust === true ? () => true : (_addr: string, i: number) => i < trust;
  return (req) => proxyAddr(req, trusted);
}
